//! Tag listing: `GET /v2/<repo>/tags/list`, following `Link: <…>; rel="next"` pages.

use anyhow::Context as _;
use http::{Method, StatusCode};
use serde::Deserialize;
use skopos_core::limits::{MAX_TAG_LIST_PAGE, MAX_TAG_LIST_PAGES};
use skopos_core::Digest;

use crate::auth::Scope;
use crate::client::Request;
use crate::errors::{response_error, NotFound};
use crate::paging::Pages;
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
        // containers/image's words, which skopeo's callers wrap in their own.
        let context = || "fetching tags list".to_string();
        let mut next = Some(match page_size {
            Some(n) => format!("/v2/{repo}/tags/list?n={n}"),
            None => format!("/v2/{repo}/tags/list"),
        });
        let mut tags = Vec::new();
        let mut pages = Pages::new("the tags list", MAX_TAG_LIST_PAGES);
        while let Some(target) = next.take() {
            let request = Request::new(Method::GET, target, vec![Scope::pull(repo)]);
            let response = self.send(request).await.with_context(context)?;
            if response.status() != StatusCode::OK {
                // A repository the registry does not know is no image lookup failing: skopeo
                // exits with status 1 there, as for any other error.
                return Err(response_error(response, NotFound::IsPlainError)
                    .await
                    .context(context()));
            }
            next = pages.next_after(&response).with_context(context)?;
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
