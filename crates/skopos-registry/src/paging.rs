//! Following `Link: <…>; rel="next"` pages (distribution spec), as the tag list and the
//! referrers API answer: each next link is resolved against the page that gave it, and a
//! listing stops with an error when it would go on forever (a link back to a page already
//! read, or more pages than the cap).

use std::collections::HashSet;

use anyhow::bail;
use http::header::LINK;
use url::Url;

use crate::http_client::Response;
use crate::Result;

/// The pages of one listing read so far.
pub(crate) struct Pages {
    read: HashSet<Url>,
    limit: usize,
    /// What is listed, for messages ("the tags list").
    listing: &'static str,
}

impl Pages {
    /// A listing called `listing` in messages, of at most `limit` pages.
    pub(crate) fn new(listing: &'static str, limit: usize) -> Pages {
        Pages {
            read: HashSet::new(),
            limit,
            listing,
        }
    }

    /// Note `response`'s page as read, and return the absolute URL of the page after it,
    /// if its `Link` header names one. Refuses a page past the cap, and a next link that
    /// leads back to a page already read.
    pub(crate) fn next_after(&mut self, response: &Response) -> Result<Option<String>> {
        let base = response.url().clone();
        self.read(&base)?;
        let next = response
            .headers()
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link)
            .map(|link| base.join(&link).map(String::from))
            .transpose()?;
        if let Some(link) = &next {
            self.check_next(link)?;
        }
        Ok(next)
    }

    /// Note the page at `url` as read.
    fn read(&mut self, url: &Url) -> Result<()> {
        if self.read.len() >= self.limit {
            bail!(
                "{} has more than {} pages, the most skopos follows",
                self.listing,
                self.limit
            );
        }
        self.read.insert(url.clone());
        Ok(())
    }

    /// Refuse a next-page `link` (absolute) that leads to a page already read.
    fn check_next(&self, link: &str) -> Result<()> {
        let url = Url::parse(link)?;
        if self.read.contains(&url) {
            bail!("the registry's next-page link {link} leads back to a page already read");
        }
        Ok(())
    }
}

/// The target of a `<url>; rel="next"` link, if the `Link` header value has one.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|param| {
            param.trim().split_once('=').is_some_and(|(name, value)| {
                name.trim() == "rel" && value.trim().trim_matches('"') == "next"
            })
        });
        is_next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::{next_link, Pages};
    use url::Url;

    #[test]
    fn a_link_back_to_a_page_already_read_is_refused() {
        let mut pages = Pages::new("the tags list", 10);
        let first = Url::parse("https://r/v2/a/tags/list").unwrap();
        pages.read(&first).unwrap();
        pages.check_next("https://r/v2/a/tags/list?last=b").unwrap();
        pages
            .read(&Url::parse("https://r/v2/a/tags/list?last=b").unwrap())
            .unwrap();
        let err = pages.check_next("https://r/v2/a/tags/list").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the registry's next-page link https://r/v2/a/tags/list leads back to a page already read"
        );
    }

    #[test]
    fn pages_past_the_limit_are_refused() {
        let mut pages = Pages::new("the referrers list", 3);
        for n in 0..3 {
            let url = Url::parse(&format!("https://r/v2/a/tags/list?last={n}")).unwrap();
            pages.read(&url).unwrap();
        }
        let fourth = Url::parse("https://r/v2/a/tags/list?last=3").unwrap();
        let err = pages.read(&fourth).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the referrers list has more than 3 pages, the most skopos follows"
        );
    }

    #[test]
    fn finds_the_next_link() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://x/prev>; rel="prev", <https://x/next>; rel=next"#).as_deref(),
            Some("https://x/next")
        );
        assert_eq!(next_link(r#"<https://x/prev>; rel="prev""#), None);
    }
}
