//! The OpenShift API calls of containers/image's `openshift` transport: read an image stream
//! (which image a tag names, and where its registry keeps it), read an image's signatures,
//! and add one. Only the fields containers/image reads are modelled.

use anyhow::{anyhow, bail, Context as _};
use base64::Engine as _;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use skopos_core::reference::AtomicReference;
use skopos_core::{Result, SystemContext};
use skopos_registry::api::ApiClient;
use skopos_registry::ClientConfig;

use super::kubeconfig;

/// The most of an API answer that is read (containers/image's `MaxOpenShiftStatusBody`).
const MAX_RESPONSE_SIZE: usize = 4 << 20;

/// A client for the image stream of one `atomic:` reference.
pub(crate) struct OpenShiftClient {
    api: ApiClient,
    reference: AtomicReference,
}

/// The image a tag of the stream points at.
pub(crate) struct TaggedImage {
    /// Where the image's registry serves it: `HOST/NAMESPACE/STREAM@DIGEST`, with the host of
    /// the `atomic:` reference (the stream names the cluster-internal one).
    pub(crate) docker_reference: String,
    /// The image's name in the API (its manifest digest).
    pub(crate) image_name: String,
}

#[derive(Deserialize)]
struct ImageStream {
    #[serde(default)]
    status: ImageStreamStatus,
}

#[derive(Default, Deserialize)]
struct ImageStreamStatus {
    #[serde(default)]
    tags: Vec<NamedTagEventList>,
}

#[derive(Deserialize)]
struct NamedTagEventList {
    #[serde(default)]
    tag: String,
    #[serde(default)]
    items: Vec<TagEvent>,
}

#[derive(Deserialize)]
struct TagEvent {
    #[serde(rename = "dockerImageReference", default)]
    docker_image_reference: String,
    #[serde(default)]
    image: String,
}

#[derive(Deserialize)]
struct ImageStreamImage {
    #[serde(default)]
    image: Image,
}

#[derive(Default, Deserialize)]
struct Image {
    #[serde(default)]
    signatures: Vec<ImageSignature>,
}

/// An image signature object, as read and as posted (Go's field order).
#[derive(Serialize, Deserialize)]
struct ImageSignature {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    kind: String,
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    api_version: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(rename = "type", default)]
    signature_type: String,
    /// Go's `[]byte`: base64 in JSON.
    #[serde(default)]
    content: String,
}

#[derive(Default, Serialize, Deserialize)]
struct ObjectMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
}

/// The only signature type containers/image reads and writes.
const SIGNATURE_TYPE_ATOMIC: &str = "atomic";

/// A `Status` object, as error answers carry one.
#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
}

impl OpenShiftClient {
    /// A client for `reference`'s cluster, from the kubeconfig files.
    pub(crate) fn new(reference: &AtomicReference, ctx: &SystemContext) -> Result<OpenShiftClient> {
        let rest = kubeconfig::load()?;
        let mut tls = ClientConfig::new(rest.server.clone());
        tls.tls_verify = !rest.insecure;
        tls.ca_certs_pem = rest.ca_pem.into_iter().collect();
        tls.client_identity_pem = rest.client_identity_pem;
        if let Some(agent) = &ctx.user_agent {
            tls.user_agent = agent.clone();
        }
        Ok(OpenShiftClient {
            api: ApiClient::new(&rest.server, &tls, rest.authorization)?,
            reference: reference.clone(),
        })
    }

    /// One API call, with containers/image's reading of the answer: a 2xx body, else the
    /// `Status` object's message, else the status code and body.
    async fn call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Vec<u8>> {
        let response = self
            .api
            .request(method, path, body, MAX_RESPONSE_SIZE)
            .await?;
        let status = serde_json::from_slice::<Status>(&response.body)
            .ok()
            .filter(|status| !status.status.is_empty());
        let code = response.status;
        if code == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(status) = status.filter(|s| s.status != "Success") {
                bail!("{}", status.message);
            }
        } else if !(200..=206).contains(&code.as_u16()) {
            if let Some(status) = status {
                bail!("{}", status.message);
            }
            bail!(
                "HTTP error: status code: {} ({}), body: {}",
                code.as_u16(),
                code.canonical_reason().unwrap_or_default(),
                String::from_utf8_lossy(&response.body)
            );
        }
        Ok(response.body.to_vec())
    }

    /// The image the reference's tag points at (containers/image's `ensureImageIsResolved`).
    pub(crate) async fn resolve_tag(&self) -> Result<TaggedImage> {
        let path = format!(
            "/oapi/v1/namespaces/{}/imagestreams/{}",
            self.reference.namespace(),
            self.reference.stream()
        );
        let body = self.call(Method::GET, &path, None).await?;
        let stream: ImageStream = serde_json::from_slice(&body)?;
        let event = stream
            .status
            .tags
            .into_iter()
            .filter(|list| list.tag == self.reference.tag())
            .find_map(|list| list.items.into_iter().next())
            .ok_or_else(|| anyhow!("No matching tag found"))?;
        // The stream names the registry by its cluster-internal address; the reference's host
        // is the one this machine can reach.
        let Some((_, repository)) = event.docker_image_reference.split_once('/') else {
            bail!(
                "Invalid format of docker reference {:?}: missing '/'",
                event.docker_image_reference
            );
        };
        Ok(TaggedImage {
            docker_reference: format!(
                "{}/{repository}",
                self.reference.docker_reference().domain()
            ),
            image_name: event.image,
        })
    }

    /// The simple signatures stored for the image named `image_name` (a manifest digest).
    pub(crate) async fn signatures(&self, image_name: &str) -> Result<Vec<Vec<u8>>> {
        let image = self.image(image_name).await?;
        image
            .signatures
            .into_iter()
            .filter(|sig| sig.signature_type == SIGNATURE_TYPE_ATOMIC)
            .map(|sig| decode(&sig.content))
            .collect()
    }

    async fn image(&self, image_name: &str) -> Result<Image> {
        let path = format!(
            "/oapi/v1/namespaces/{}/imagestreamimages/{}@{image_name}",
            self.reference.namespace(),
            self.reference.stream()
        );
        let body = self.call(Method::GET, &path, None).await?;
        let image: ImageStreamImage = serde_json::from_slice(&body)?;
        Ok(image.image)
    }

    /// Add the signatures the image does not have yet, each under a new random name.
    pub(crate) async fn add_signatures(
        &self,
        image_name: &str,
        signatures: &[Vec<u8>],
    ) -> Result<()> {
        if signatures.is_empty() {
            return Ok(());
        }
        let existing = self.image(image_name).await?.signatures;
        for blob in signatures {
            // The API stores simple signatures only, as their raw OpenPGP messages.
            let Some(signature) = skopos_core::signature_blob::simple_signing_message(blob) else {
                bail!("unsupported signature format for atomic: images: only simple signing signatures can be stored");
            };
            let already_there = existing.iter().any(|sig| {
                sig.signature_type == SIGNATURE_TYPE_ATOMIC
                    && decode(&sig.content).is_ok_and(|bytes| bytes == signature)
            });
            if already_there {
                continue;
            }
            let name = loop {
                let mut random = [0u8; 16];
                getrandom::fill(&mut random)
                    .map_err(|err| anyhow!("generating random signature len 16: {err}"))?;
                let name = format!("{image_name}@{}", hex::encode(random));
                if !existing.iter().any(|sig| sig.metadata.name == name) {
                    break name;
                }
            };
            let object = ImageSignature {
                kind: "ImageSignature".to_string(),
                api_version: "v1".to_string(),
                metadata: ObjectMeta { name },
                signature_type: SIGNATURE_TYPE_ATOMIC.to_string(),
                content: base64::engine::general_purpose::STANDARD.encode(signature),
            };
            let body = serde_json::to_vec(&object).context("encoding a signature object")?;
            self.call(Method::POST, "/oapi/v1/imagesignatures", Some(body))
                .await?;
        }
        Ok(())
    }
}

fn decode(content: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(content)
        .map_err(|err| anyhow!("illegal base64 data in a signature: {err}"))
}
