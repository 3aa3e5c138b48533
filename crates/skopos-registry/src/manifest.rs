//! Manifest operations: GET, HEAD, PUT and DELETE of `/v2/<repo>/manifests/<reference>`.

use anyhow::Context as _;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, StatusCode};
use skopos_core::error::ManifestTypeRejected;
use skopos_core::limits::{LimitExceeded, MAX_MANIFEST_BODY};
use skopos_core::manifest::manifest_digest;
use skopos_core::media_type::ALL_MANIFEST_TYPES;
use skopos_core::{Digest, ImageNotFound};

use crate::auth::Scope;
use crate::client::Request;
use crate::errors::{response_error, NotFound, RegistryError};
use crate::http_client::{Body, Response};
use crate::{RegistryClient, Result};

/// What a `HEAD` of a manifest tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// `Docker-Content-Digest`, when the registry sends it.
    pub digest: Option<Digest>,
    /// The `Content-Type`, without parameters.
    pub media_type: String,
    /// `Content-Length`, when sent.
    pub size: Option<u64>,
}

impl RegistryClient {
    /// The manifest `reference` (a tag or a digest) of `repo`, and its MIME type as the
    /// registry labels it. The bytes are not checked against a digest `reference`: as in
    /// containers/image, a [`skopos_core::verified::VerifiedSource`] does that for every
    /// transport.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<(Vec<u8>, String)> {
        let context = || format!("reading manifest {reference} in {}/{repo}", self.registry());
        let request = Request::new(
            Method::GET,
            format!("/v2/{repo}/manifests/{reference}"),
            vec![Scope::pull(repo)],
        )
        .header(ACCEPT, &ALL_MANIFEST_TYPES.join(", "))?;
        // Failures to reach the registry or to get a token explain themselves; like
        // skopeo, only the registry's answer about the manifest gets this context.
        let mut response = self.send(request).await?;
        if response.status() != StatusCode::OK {
            return Err(response_error(response, NotFound::IsImageNotFound)
                .await
                .context(context()));
        }
        let media_type = content_type(&response);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.with_context(context)? {
            if (bytes.len() + chunk.len()) as u64 > MAX_MANIFEST_BODY {
                return Err(anyhow::Error::new(LimitExceeded {
                    limit: MAX_MANIFEST_BODY,
                })
                .context(context()));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((bytes, media_type))
    }

    /// `HEAD` the manifest `reference`; `None` when the registry does not have it.
    pub async fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<ManifestHead>> {
        let context = || {
            format!(
                "checking manifest {reference} in {}/{repo}",
                self.registry()
            )
        };
        let request = Request::new(
            Method::HEAD,
            format!("/v2/{repo}/manifests/{reference}"),
            vec![Scope::pull(repo)],
        )
        .header(ACCEPT, &ALL_MANIFEST_TYPES.join(", "))?;
        let response = self.send(request).await.with_context(context)?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => {
                return Err(response_error(response, NotFound::IsImageNotFound)
                    .await
                    .context(context()))
            }
        }
        let digest = response
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let size = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok(Some(ManifestHead {
            digest,
            media_type: content_type(&response),
            size,
        }))
    }

    /// Store `bytes` (of type `mime`) as manifest `reference` (a tag or its digest) and
    /// return its digest. A registry that rejects the format answers with a
    /// [`ManifestTypeRejected`] in the chain, so that the caller can try another format.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        mime: &str,
    ) -> Result<Digest> {
        let context = || format!("writing manifest {reference} to {}/{repo}", self.registry());
        let digest = manifest_digest(bytes).with_context(context)?;
        let request = Request::new(
            Method::PUT,
            format!("/v2/{repo}/manifests/{reference}"),
            vec![Scope::push(repo)],
        )
        .header(CONTENT_TYPE, mime)?
        .body(Body::Bytes(Bytes::copy_from_slice(bytes)));
        let response = self.send(request).await.with_context(context)?;
        if response.status() != StatusCode::CREATED {
            let err = response_error(response, NotFound::IsPlainError).await;
            if let Some(reason) = rejected_format(&err) {
                return Err(anyhow::Error::new(ManifestTypeRejected {
                    mime_type: mime.to_string(),
                    reason,
                })
                .context(context()));
            }
            return Err(err.context(context()));
        }
        Ok(digest)
    }

    /// Delete the manifest `digest` (and so every tag pointing to it). Registries refuse
    /// this unless deletes are enabled in their configuration.
    pub async fn delete_manifest(&self, repo: &str, digest: &Digest) -> Result<()> {
        let context = || format!("deleting manifest {digest} in {}/{repo}", self.registry());
        let request = Request::new(
            Method::DELETE,
            format!("/v2/{repo}/manifests/{digest}"),
            vec![Scope::all(repo)],
        );
        let response = self.send(request).await.with_context(context)?;
        let status = response.status();
        if status == StatusCode::ACCEPTED {
            return Ok(());
        }
        let err = response_error(response, NotFound::IsImageNotFound).await;
        let unsupported = err
            .downcast_ref::<RegistryError>()
            .is_some_and(|e| e.code.as_deref() == Some("UNSUPPORTED"));
        if status == StatusCode::METHOD_NOT_ALLOWED || unsupported {
            return Err(err
                .context("the registry does not allow deleting images (deletes are disabled in its configuration)")
                .context(context()));
        }
        Err(err.context(context()))
    }
}

/// The response's `Content-Type` without parameters.
fn content_type(response: &Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Why the registry refused the manifest's format, when the error says so (the codes
/// containers/image treats as "try another manifest format").
fn rejected_format(err: &anyhow::Error) -> Option<String> {
    if err.downcast_ref::<ImageNotFound>().is_some() {
        return None;
    }
    let registry_error = err.downcast_ref::<RegistryError>()?;
    match registry_error.code.as_deref() {
        Some("MANIFEST_INVALID" | "TAG_INVALID") => Some(registry_error.message.clone()),
        // AWS ECR's answer to an OCI manifest without a top-level mediaType.
        Some("UNSUPPORTED") if registry_error.message.contains("Invalid JSON syntax") => {
            Some(registry_error.message.clone())
        }
        _ if registry_error.status == StatusCode::UNSUPPORTED_MEDIA_TYPE.as_u16() => {
            Some(registry_error.message.clone())
        }
        _ => None,
    }
}
