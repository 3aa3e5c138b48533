//! OCI 1.1 referrers: `GET /v2/<repo>/referrers/<digest>` where the registry has the
//! referrers API, else the referrers tag schema (an image index tagged `sha256-<hex>`
//! listing the subject's referrers), which is what distribution 2.8 needs.
//!
//! Adding to the tag schema's index is a read-modify-write shared with every other tool
//! that pushes referrers. The PUT is conditional (`If-Match` on the ETag read, or
//! `If-None-Match: *` when there was no index) for registries that honour it; for those
//! that do not (distribution 2.8 ignores both), the writer re-reads the index until two
//! reads in a row still list its referrer, merging again whenever a concurrent writer's
//! PUT has replaced it. Without conditional requests a lost update remains possible in
//! theory (a writer whose stale read predates another's PUT by more than those two reads),
//! which is the limit of what the tag schema allows.

use std::collections::HashSet;

use anyhow::{anyhow, Context as _};
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH};
use http::{Method, StatusCode};
use skopos_core::limits::{MAX_MANIFEST_BODY, MAX_REFERRERS, MAX_REFERRERS_PAGES};
use skopos_core::media_type::OCI_INDEX;
use skopos_core::referrers::{fallback_tag, Referrer, ReferrersIndex};
use skopos_core::Digest;

use crate::auth::Scope;
use crate::client::Request;
use crate::errors::{response_error, NotFound};
use crate::http_client::Body;
use crate::paging::Pages;
use crate::{RegistryClient, Result};

/// How many read-merge-write rounds a writer tries before giving up.
const MAX_MERGE_ROUNDS: usize = 10;

/// The tag schema's index as read, with the ETag to make the next PUT conditional on.
struct FallbackIndex {
    index: ReferrersIndex,
    etag: Option<String>,
}

impl RegistryClient {
    /// The referrers of `subject` in `repo` with an artifact type among `artifact_types`
    /// (all when empty): from the referrers API, else from the tag schema's index. The
    /// filter is also applied here, since registries may ignore `artifactType=`.
    pub async fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_types: &[String],
    ) -> Result<Vec<Referrer>> {
        // The API filters on one type at a time; several are filtered here instead.
        let server_filter = match artifact_types {
            [only] => Some(only.as_str()),
            _ => None,
        };
        let index = match self.referrers_api(repo, subject, server_filter).await? {
            Some(index) => index,
            None => match self.fallback_index(repo, subject).await? {
                Some(found) => found.index,
                None => ReferrersIndex::new(Vec::new()),
            },
        };
        Ok(index
            .manifests
            .into_iter()
            .filter(|r| r.matches(artifact_types))
            .collect())
    }

    /// Whether the registry answers the referrers API for `repo` (it then indexes pushed
    /// manifests by their `subject` itself).
    pub async fn has_referrers_api(&self, repo: &str, subject: &Digest) -> Result<bool> {
        Ok(self.referrers_api(repo, subject, None).await?.is_some())
    }

    /// `GET /v2/<repo>/referrers/<subject>`; `None` when the registry has no such API
    /// (404, as distribution-spec 1.1 says clients must then use the tag schema). A
    /// registry may split the answer into pages linked by `Link: <…>; rel="next"`; their
    /// referrers are merged into one index.
    async fn referrers_api(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<ReferrersIndex>> {
        let context = || {
            format!(
                "listing referrers of {subject} in {}/{repo}",
                self.registry()
            )
        };
        let mut target = format!("/v2/{repo}/referrers/{subject}");
        if let Some(kind) = artifact_type {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("artifactType", kind)
                .finish();
            target = format!("{target}?{query}");
        }
        let mut next = Some(target);
        let mut pages = Pages::new("the referrers list", MAX_REFERRERS_PAGES);
        let mut merged: Option<ReferrersIndex> = None;
        // Digests already listed: a referrer on two pages is kept once.
        let mut listed = HashSet::new();
        while let Some(target) = next.take() {
            let request = Request::new(Method::GET, target, vec![Scope::pull(repo)])
                .header(ACCEPT, OCI_INDEX)?;
            let response = self.send(request).await.with_context(context)?;
            match response.status() {
                StatusCode::OK => {}
                // Only the first page tells whether the API exists.
                StatusCode::NOT_FOUND if merged.is_none() => return Ok(None),
                _ => {
                    return Err(response_error(response, NotFound::IsPlainError)
                        .await
                        .context(context()))
                }
            }
            next = pages.next_after(&response).with_context(context)?;
            let body = response
                .bytes_at_most(MAX_MANIFEST_BODY)
                .await
                .with_context(context)?;
            let page = ReferrersIndex::parse(&body).with_context(context)?;
            let index = merged.get_or_insert_with(|| ReferrersIndex::new(Vec::new()));
            for referrer in page.manifests {
                if listed.insert(referrer.digest.clone()) {
                    index.manifests.push(referrer);
                }
            }
            if index.manifests.len() > MAX_REFERRERS {
                return Err(anyhow!(
                    "the registry lists more than {MAX_REFERRERS} referrers, the most skopos keeps"
                )
                .context(context()));
            }
        }
        Ok(merged)
    }

    /// The tag schema's index of `subject`, `None` when the tag does not exist.
    async fn fallback_index(&self, repo: &str, subject: &Digest) -> Result<Option<FallbackIndex>> {
        let tag = fallback_tag(subject);
        let context = || {
            format!(
                "reading referrers index {tag} in {}/{repo}",
                self.registry()
            )
        };
        let request = Request::new(
            Method::GET,
            format!("/v2/{repo}/manifests/{tag}"),
            vec![Scope::pull(repo)],
        )
        .header(ACCEPT, OCI_INDEX)?;
        let response = self.send(request).await.with_context(context)?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => {
                return Err(response_error(response, NotFound::IsPlainError)
                    .await
                    .context(context()))
            }
        }
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .bytes_at_most(MAX_MANIFEST_BODY)
            .await
            .with_context(context)?;
        let index = ReferrersIndex::parse(&body).with_context(context)?;
        Ok(Some(FallbackIndex { index, etag }))
    }

    /// Add `referrer` to the tag schema's index of `subject` in `repo` (see the module
    /// documentation for how concurrent writers are reconciled).
    pub async fn add_fallback_referrer(
        &self,
        repo: &str,
        subject: &Digest,
        referrer: &Referrer,
    ) -> Result<()> {
        let tag = fallback_tag(subject);
        let mut confirmations = 0;
        for _ in 0..MAX_MERGE_ROUNDS {
            let current = self.fallback_index(repo, subject).await?;
            if let Some(found) = &current {
                if found.index.contains(&referrer.digest) {
                    confirmations += 1;
                    if confirmations == 2 {
                        return Ok(());
                    }
                    continue;
                }
            }
            confirmations = 0;
            let (mut index, condition) = match current {
                Some(found) => (found.index, found.etag.map(|etag| (IF_MATCH, etag))),
                None => (
                    ReferrersIndex::new(Vec::new()),
                    Some((IF_NONE_MATCH, "*".to_string())),
                ),
            };
            index.merge(referrer);
            if !self
                .put_index_if(repo, &tag, &index.to_bytes()?, condition)
                .await?
            {
                tracing::debug!("referrers index {tag} changed while we merged; merging again");
            }
        }
        Err(anyhow!(
            "adding referrer {} to referrers index {tag} in {}/{repo}: other writers kept replacing it",
            referrer.digest,
            self.registry()
        ))
    }

    /// PUT an index under `tag`, conditional on `condition`; `false` when the registry
    /// refused the condition (412: someone else wrote the tag since it was read).
    async fn put_index_if(
        &self,
        repo: &str,
        tag: &str,
        bytes: &[u8],
        condition: Option<(http::header::HeaderName, String)>,
    ) -> Result<bool> {
        let context = || {
            format!(
                "writing referrers index {tag} to {}/{repo}",
                self.registry()
            )
        };
        let mut request = Request::new(
            Method::PUT,
            format!("/v2/{repo}/manifests/{tag}"),
            vec![Scope::push(repo)],
        )
        .header(CONTENT_TYPE, OCI_INDEX)?
        .body(Body::Bytes(Bytes::copy_from_slice(bytes)));
        if let Some((name, value)) = condition {
            request = request.header(name, &value)?;
        }
        let response = self.send(request).await.with_context(context)?;
        match response.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::PRECONDITION_FAILED => Ok(false),
            _ => Err(response_error(response, NotFound::IsPlainError)
                .await
                .context(context())),
        }
    }
}
