//! Tag listing: `GET /v2/<repo>/tags/list`, following `Link: <…>; rel="next"` pages.

use std::collections::HashSet;

use anyhow::{bail, Context as _};
use http::header::LINK;
use http::{Method, StatusCode};
use serde::Deserialize;
use skopos_core::limits::{MAX_TAG_LIST_PAGE, MAX_TAG_LIST_PAGES};
use skopos_core::Digest;
use url::Url;

use crate::auth::Scope;
use crate::client::Request;
use crate::errors::{response_error, NotFound};
use crate::{RegistryClient, Result};

#[derive(Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl RegistryClient {
    /// Every tag of `repo`, in the registry's order, across all pages.
    pub async fn list_tags(&self, repo: &str) -> Result<Vec<String>> {
        self.list_tags_in_pages(repo, None).await
    }

    /// [`Self::list_tags`], asking for pages of at most `page_size` tags (`?n=`).
    pub async fn list_tags_in_pages(
        &self,
        repo: &str,
        page_size: Option<u32>,
    ) -> Result<Vec<String>> {
        let context = || format!("fetching tags list of {}/{repo}", self.registry());
        let mut next = Some(match page_size {
            Some(n) => format!("/v2/{repo}/tags/list?n={n}"),
            None => format!("/v2/{repo}/tags/list"),
        });
        let mut tags = Vec::new();
        let mut pages = Pages::new(MAX_TAG_LIST_PAGES);
        while let Some(target) = next.take() {
            let request = Request::new(Method::GET, target, vec![Scope::pull(repo)]);
            let response = self.send(request).await.with_context(context)?;
            if response.status() != StatusCode::OK {
                return Err(response_error(response, NotFound::IsImageNotFound)
                    .await
                    .context(context()));
            }
            let base = response.url().clone();
            pages.read(&base).with_context(context)?;
            next = response
                .headers()
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link)
                .map(|link| base.join(&link).map(String::from))
                .transpose()
                .with_context(context)?;
            if let Some(link) = &next {
                pages.check_next(link).with_context(context)?;
            }
            let body = response
                .bytes_at_most(MAX_TAG_LIST_PAGE)
                .await
                .with_context(context)?;
            let page: TagPage = serde_json::from_slice(&body)
                .context("the registry sent an invalid tags list")
                .with_context(context)?;
            for tag in page.tags.unwrap_or_default() {
                // Some registries (JFrog Artifactory) list digests among the tags.
                if tag.is_empty() || tag.parse::<Digest>().is_ok() {
                    tracing::debug!("ignoring invalid tag {tag:?}");
                    continue;
                }
                tags.push(tag);
            }
        }
        Ok(tags)
    }
}

/// The pages of one tag list read so far: a `rel="next"` link back to one of them, or more
/// pages than the limit, would have the listing go on forever.
struct Pages {
    read: HashSet<Url>,
    limit: usize,
}

impl Pages {
    fn new(limit: usize) -> Pages {
        Pages {
            read: HashSet::new(),
            limit,
        }
    }

    /// Note the page at `url` as read.
    fn read(&mut self, url: &Url) -> Result<()> {
        if self.read.len() >= self.limit {
            bail!(
                "the tags list has more than {} pages, the most skopos follows",
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
        let mut pages = Pages::new(10);
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
        let mut pages = Pages::new(3);
        for n in 0..3 {
            let url = Url::parse(&format!("https://r/v2/a/tags/list?last={n}")).unwrap();
            pages.read(&url).unwrap();
        }
        let fourth = Url::parse("https://r/v2/a/tags/list?last=3").unwrap();
        let err = pages.read(&fourth).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the tags list has more than 3 pages, the most skopos follows"
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
