//! The methods: argument checks and error texts as skopeo's `proxy.go` has them, images
//! opened through the transports with the trust policy applied, payloads in pipes.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use skopos_core::image_read::{self, ChosenImage};
use skopos_core::manifest::{self, ConversionInputs, Manifest};
use skopos_core::platform::Platform;
use skopos_core::verified::VerifiedSource;
use skopos_core::{media_type, BlobInfo, Digest, ImageName, ImageSource, SystemContext};
use skopos_policy::Policy;

use crate::pipes::{self, ActivePipe, StartedPipe};
use crate::wire::{go_type_name, parse_uint64, Request};
use crate::{ProxySettings, PROTOCOL_VERSION};

/// The image id that means "not found" (`OpenImageOptional`); never given to an image.
const NOT_FOUND_IMAGE_ID: u64 = 0;

/// A successful call's reply: its value, its pipe id and the descriptors it carries.
#[derive(Debug)]
pub struct Reply {
    /// The reply's `value`, encoded as Go encodes it (struct members in declaration
    /// order, HTML characters escaped).
    pub value: Box<RawValue>,
    /// The reply's `pipeid` (0: none).
    pub pipe_id: u32,
    /// Read ends of pipes for the client, sent with the reply and then closed here.
    pub fds: Vec<OwnedFd>,
}

impl Reply {
    /// A reply with this value and no pipe.
    fn value<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<Reply> {
        Ok(Reply {
            value: encode_value(value)?,
            pipe_id: 0,
            fds: Vec::new(),
        })
    }

    /// A reply with a `null` value.
    fn null() -> anyhow::Result<Reply> {
        Reply::value(&Value::Null)
    }
}

/// `value` as Go's `json.Marshal` writes it.
pub fn encode_value<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<Box<RawValue>> {
    let text = String::from_utf8(skopos_core::go::json::to_vec(value)?)?;
    Ok(RawValue::from_string(text)?)
}

/// What the server does after a request.
pub enum Outcome {
    /// Send this reply (or this error) and wait for the next request.
    Reply(anyhow::Result<Reply>),
    /// `Shutdown`: stop without replying.
    Shutdown,
}

/// What `Initialize` sets up.
struct Session {
    policy: Policy,
    context: SystemContext,
    platform: Platform,
}

/// An opened image: its source and the per-platform image chosen from it.
struct OpenedImage {
    source: Arc<dyn ImageSource>,
    image: ChosenImage,
}

/// One layer as `GetLayerInfo` describes it (skopeo's `convertedLayerInfo`).
#[derive(Serialize)]
struct LayerInfoReply {
    digest: Digest,
    /// -1 when the manifest gives no size (schema 1), as in skopeo.
    size: i64,
    media_type: String,
}

/// The state of one connection.
pub struct Handler {
    settings: ProxySettings,
    session: Option<Session>,
    last_image_id: u64,
    images: HashMap<u64, OpenedImage>,
    pipes: HashMap<u32, ActivePipe>,
}

impl Handler {
    /// A handler for one client, not yet initialized.
    pub fn new(settings: ProxySettings) -> Handler {
        Handler {
            settings,
            session: None,
            last_image_id: 0,
            images: HashMap::new(),
            pipes: HashMap::new(),
        }
    }

    /// Parse and run one request.
    pub async fn process(&mut self, packet: &[u8]) -> Outcome {
        let request: Request = match serde_json::from_slice(packet) {
            Ok(request) => request,
            Err(err) => return Outcome::Reply(Err(anyhow!("invalid request: {err}"))),
        };
        tracing::debug!("Executing method {}", request.method);
        let args = request.args.as_slice();
        let result = match request.method.as_str() {
            "Initialize" => self.initialize(args),
            "OpenImage" => self.open_image(args, false).await,
            "OpenImageOptional" => self.open_image(args, true).await,
            "CloseImage" => self.close_image(args),
            "GetManifest" => self.get_manifest(args).await,
            "GetConfig" => self.get_config(args, false).await,
            "GetFullConfig" => self.get_config(args, true).await,
            "GetBlob" => self.get_blob(args).await,
            "GetRawBlob" => self.get_raw_blob(args).await,
            "GetLayerInfo" => self.get_layer_info(args, false),
            "GetLayerInfoPiped" => self.get_layer_info(args, true),
            "FinishPipe" => self.finish_pipe(args).await,
            "Shutdown" => return Outcome::Shutdown,
            other => Err(anyhow!("unknown method: {other}")),
        };
        Outcome::Reply(result)
    }

    fn session(&self) -> anyhow::Result<&Session> {
        self.session
            .as_ref()
            .ok_or_else(|| anyhow!("client error: must invoke Initialize"))
    }

    fn initialize(&mut self, args: &[Value]) -> anyhow::Result<Reply> {
        if !args.is_empty() {
            bail!("invalid request, expecting zero arguments");
        }
        if self.session.is_some() {
            bail!("already initialized");
        }
        let policy = Policy::load(
            self.settings.policy_path.as_deref(),
            self.settings.insecure_policy,
        )?;
        let context = (self.settings.system_context)()?;
        let platform = Platform::wanted(
            context.override_os.as_deref(),
            context.override_arch.as_deref(),
            context.override_variant.as_deref(),
        );
        self.session = Some(Session {
            policy,
            context,
            platform,
        });
        Reply::value(PROTOCOL_VERSION)
    }

    async fn open_image(&mut self, args: &[Value], allow_not_found: bool) -> anyhow::Result<Reply> {
        let session = self.session()?;
        let [reference] = args else {
            bail!("invalid request, expecting one argument");
        };
        let Value::String(reference) = reference else {
            bail!("expecting string imageref, not {}", go_type_name(reference));
        };
        let name = ImageName::parse(reference)?;
        // Every manifest is checked against the digest that names it, as on copy.
        let source: Arc<dyn ImageSource> =
            match skopos_transports::open_source(&name, &session.context).await {
                Ok(source) => VerifiedSource::wrap(Arc::from(source)),
                Err(err) if allow_not_found && skopos_core::error::is_image_not_found(&err) => {
                    return Reply::value(&NOT_FOUND_IMAGE_ID);
                }
                Err(err) => return Err(err),
            };
        // The top level's verdict is kept: for a list, either it or the chosen instance's
        // may accept the image (skopeo 1.22.2).
        let (top_bytes, top_mime) = source.manifest(None).await?;
        let top_level_verdict = session
            .policy
            .check_image(&name, &top_bytes, || source.signatures(None))
            .await;
        let image =
            image_read::choose_image(source.as_ref(), &top_bytes, &top_mime, &session.platform)
                .await?;
        match &image.instance {
            Some(instance) => {
                let instance_verdict = session
                    .policy
                    .check_image(&name, &image.bytes, || source.signatures(Some(instance)))
                    .await;
                if let (Err(_), Err(instance_err)) = (top_level_verdict, instance_verdict) {
                    return Err(instance_err);
                }
            }
            None => top_level_verdict?,
        }
        self.last_image_id += 1;
        let id = self.last_image_id;
        self.images.insert(id, OpenedImage { source, image });
        Reply::value(&id)
    }

    /// The open image `value` names.
    fn image(&self, value: &Value) -> anyhow::Result<&OpenedImage> {
        let id = open_image_id(value)?;
        self.images.get(&id).ok_or_else(|| anyhow!("no image {id}"))
    }

    fn close_image(&mut self, args: &[Value]) -> anyhow::Result<Reply> {
        self.session()?;
        let [id] = args else {
            bail!("invalid request, expecting one argument");
        };
        let id = open_image_id(id)?;
        self.images
            .remove(&id)
            .ok_or_else(|| anyhow!("no image {id}"))?;
        Reply::null()
    }

    async fn get_manifest(&mut self, args: &[Value]) -> anyhow::Result<Reply> {
        self.session()?;
        let [id] = args else {
            bail!("invalid request, expecting one argument");
        };
        let opened = self.image(id)?;
        let image = &opened.image;
        // Clients see OCI only: schema 2 is converted (with its config re-encoded), as
        // containers/image converts it; schema 1 is refused.
        let oci_bytes = match &image.manifest {
            Manifest::Oci(_) => image.bytes.clone(),
            Manifest::Schema2(_) => {
                let config =
                    image_read::image_config_blob(opened.source.as_ref(), &image.manifest).await?;
                let inputs = ConversionInputs {
                    config: Some(&config),
                    ..ConversionInputs::default()
                };
                image.manifest.convert(media_type::OCI_MANIFEST, &inputs)?
            }
            Manifest::Schema1(_) => bail!(
                "unsupported legacy manifest MIME type: {}",
                image.manifest.mime_type()
            ),
        };
        // The digest of the image's manifest as stored, which pull-by-digest needs.
        let digest = manifest::manifest_digest(&image.bytes)?;
        self.reply_with_bytes(&digest, oci_bytes)
    }

    async fn get_config(&mut self, args: &[Value], full: bool) -> anyhow::Result<Reply> {
        self.session()?;
        let [id] = args else {
            bail!("invalid request, expecting: [imgid]");
        };
        let opened = self.image(id)?;
        let config = image_read::oci_config(opened.source.as_ref(), &opened.image.manifest).await?;
        // `GetConfig` (deprecated) gives only the runtime part, a historical mistake kept.
        let bytes = if full {
            skopos_core::go::json::to_vec(&config)?
        } else {
            skopos_core::go::json::to_vec(&config.config)?
        };
        self.reply_with_bytes(&Value::Null, bytes)
    }

    async fn get_blob(&mut self, args: &[Value]) -> anyhow::Result<Reply> {
        self.session()?;
        let [id, digest, size] = args else {
            bail!("found {} args, expecting (imgid, digest, size)", args.len());
        };
        let opened = self.image(id)?;
        let digest = blob_digest_text(digest)?;
        let size = parse_uint64(size)?;
        let digest = parse_digest(digest)?;
        let info = BlobInfo {
            digest: digest.clone(),
            size: Some(size),
            media_type: String::new(),
        };
        let (blob, blob_size) = opened.source.blob(&info).await?;
        let started = pipes::verified_blob_pipe(blob, digest, size)?;
        self.keep_pipe(started, &size_value(blob_size))
    }

    async fn get_raw_blob(&mut self, args: &[Value]) -> anyhow::Result<Reply> {
        self.session()?;
        let [id, digest] = args else {
            bail!("found {} args, expecting (imgid, digest)", args.len());
        };
        let opened = self.image(id)?;
        let digest = parse_digest(blob_digest_text(digest)?)?;
        let info = BlobInfo {
            digest,
            size: None,
            media_type: String::new(),
        };
        let (blob, blob_size) = opened.source.blob(&info).await?;
        let (data, errors) = pipes::raw_blob_pipes(blob)?;
        Ok(Reply {
            fds: vec![data, errors],
            ..Reply::value(&size_value(blob_size))?
        })
    }

    fn get_layer_info(&mut self, args: &[Value], piped: bool) -> anyhow::Result<Reply> {
        self.session()?;
        let [id] = args else {
            bail!("found {} args, expecting (imgid)", args.len());
        };
        let opened = self.image(id)?;
        let layers: Vec<LayerInfoReply> = opened
            .image
            .manifest
            .layers()
            .into_iter()
            .map(|layer| LayerInfoReply {
                size: layer
                    .size
                    .and_then(|size| i64::try_from(size).ok())
                    .unwrap_or(-1),
                digest: layer.digest,
                media_type: layer.media_type,
            })
            .collect();
        if piped {
            let bytes = skopos_core::go::json::to_vec(&layers)?;
            self.reply_with_bytes(&Value::Null, bytes)
        } else {
            Reply::value(&layers)
        }
    }

    async fn finish_pipe(&mut self, args: &[Value]) -> anyhow::Result<Reply> {
        // skopeo indexes args[0] unchecked (and would crash); refuse instead.
        let [id] = args else {
            bail!("found {} args, expecting (pipeid)", args.len());
        };
        // Pipe ids are descriptor numbers, which skopeo truncates to 32 bits.
        let id = parse_uint64(id)? as u32;
        let pipe = self
            .pipes
            .remove(&id)
            .ok_or_else(|| anyhow!("finishpipe: no active pipe {id}"))?;
        pipe.finish().await?;
        tracing::debug!("Completed pipe goroutine");
        Reply::null()
    }

    fn reply_with_bytes<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let started = pipes::bytes_pipe(bytes)?;
        self.keep_pipe(started, value)
    }

    fn keep_pipe<T: Serialize + ?Sized>(
        &mut self,
        started: StartedPipe,
        value: &T,
    ) -> anyhow::Result<Reply> {
        let value = encode_value(value)?;
        self.pipes.insert(started.id, started.pipe);
        Ok(Reply {
            value,
            pipe_id: started.id,
            fds: vec![started.read_end],
        })
    }
}

/// An image id argument; 0 never names an image.
fn open_image_id(value: &Value) -> anyhow::Result<u64> {
    let id = parse_uint64(value)?;
    if id == NOT_FOUND_IMAGE_ID {
        bail!("Invalid imageid value of zero");
    }
    Ok(id)
}

/// A blob size as skopeo reports it: -1 when unknown.
fn size_value(size: Option<u64>) -> i64 {
    size.and_then(|size| i64::try_from(size).ok()).unwrap_or(-1)
}

/// The blob digest argument, which must be a string.
fn blob_digest_text(value: &Value) -> anyhow::Result<&str> {
    match value {
        Value::String(text) => Ok(text),
        _ => bail!("expecting string blobid"),
    }
}

/// A digest, refused with go-digest's wording.
fn parse_digest(text: &str) -> anyhow::Result<Digest> {
    text.parse::<Digest>()
        .map_err(|err| anyhow!("{}", err.go_text()))
}
