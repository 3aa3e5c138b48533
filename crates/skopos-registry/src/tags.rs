//! Tag listing: `GET /v2/<repo>/tags/list`, following `Link: <…>; rel="next"` pages.

use anyhow::Context as _;
use http::header::LINK;
use http::{Method, StatusCode};
use serde::Deserialize;
use skopos_core::Digest;

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
        while let Some(target) = next.take() {
            let request = Request::new(Method::GET, target, vec![Scope::pull(repo)]);
            let response = self.send(request).await.with_context(context)?;
            if response.status() != StatusCode::OK {
                return Err(response_error(response, NotFound::IsImageNotFound)
                    .await
                    .context(context()));
            }
            let base = response.url().clone();
            next = response
                .headers()
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link)
                .map(|link| base.join(&link).map(String::from))
                .transpose()
                .with_context(context)?;
            let body = response.bytes().await.with_context(context)?;
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

/// The target of a `<url>; rel="next"` link, if the header value has one.
fn next_link(header: &str) -> Option<String> {
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
    use super::next_link;

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
