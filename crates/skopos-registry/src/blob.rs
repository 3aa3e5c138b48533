//! Blob operations: existence checks, streaming downloads that resume after a broken
//! connection, cross-repository mounts and streaming uploads.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use http::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use http::{Method, StatusCode};
use skopos_core::digest::DigestingReader;
use skopos_core::{
    BlobChunks, BlobInfo, BlobReader, BlobTail, Digest, FileBlob, SentBytes, WrittenBlob,
};
use tokio_util::io::StreamReader;
use url::Url;

use crate::auth::Scope;
use crate::client::Request;
use crate::errors::{response_error, NotFound, RegistryError};
use crate::file_upload::FileBody;
use crate::http_client::{Body, Response};
use crate::{RegistryClient, Result};

/// Reconnections in a row, without any byte received in between, before a download fails.
const MAX_RESUMES_WITHOUT_PROGRESS: u32 = 3;

impl RegistryClient {
    /// The size of blob `digest` in `repo`, or `None` when the registry does not have it.
    /// (A registry that omits `Content-Length` gets a size of 0; registries send it.)
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<Option<u64>> {
        let context = || {
            format!(
                "checking whether blob {digest} exists in {}/{repo}",
                self.registry()
            )
        };
        let request = Request::new(
            Method::HEAD,
            format!("/v2/{repo}/blobs/{digest}"),
            vec![Scope::pull(repo)],
        );
        let response = self.send(request).await.with_context(context)?;
        match response.status() {
            StatusCode::OK => Ok(Some(content_length(&response).unwrap_or(0))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(response_error(response, NotFound::IsPlainError)
                .await
                .context(context())),
        }
    }

    /// Stream blob `digest` from `repo`, with its size when the registry sends it.
    /// Redirects (to a CDN, typically) are followed without the `Authorization` header.
    /// A connection that breaks mid-way is resumed with a `Range` request. The stream
    /// ends with an `InvalidData` error if the bytes do not match `digest`.
    pub async fn get_blob(&self, repo: &str, digest: &Digest) -> Result<(BlobReader, Option<u64>)> {
        let (stream, size) = self.get_blob_unverified(repo, digest).await?;
        let reader = DigestingReader::verifying(stream, digest.clone(), size);
        Ok((Box::pin(reader), size))
    }

    /// [`Self::get_blob`] without the digest check, for callers that verify the stream
    /// themselves (the copy engine does, for every transport).
    pub async fn get_blob_unverified(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<(BlobReader, Option<u64>)> {
        let (chunks, size) = self.get_blob_chunks(repo, digest).await?;
        Ok((Box::pin(StreamReader::new(chunks)), size))
    }

    /// [`Self::get_blob_unverified`] as the buffers the body arrives in, for a caller that
    /// sends them on as they are (reading them copies every byte).
    pub async fn get_blob_chunks(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<(BlobChunks, Option<u64>)> {
        let context = || format!("fetching blob {digest} from {}/{repo}", self.registry());
        let path = format!("/v2/{repo}/blobs/{digest}");
        let request = Request::new(Method::GET, path.clone(), vec![Scope::pull(repo)]);
        let response = self.send(request).await.with_context(context)?;
        if response.status() != StatusCode::OK {
            return Err(response_error(response, NotFound::IsPlainError)
                .await
                .context(context()));
        }
        let size = content_length(&response);
        Ok((self.resumable_chunks(path, repo, 0, response), size))
    }

    /// Blob `digest` of `repo` from byte `offset` on (`Range: bytes=OFFSET-`), not
    /// verified: for a caller that kept the first `offset` bytes of an earlier download.
    /// A registry that ignores the range sends the whole blob, and says so with
    /// [`BlobTail::offset`] 0; one that refuses it (416) is asked for the whole blob.
    pub async fn get_blob_from(
        &self,
        repo: &str,
        digest: &Digest,
        offset: u64,
    ) -> Result<BlobTail> {
        let context = || {
            format!(
                "fetching blob {digest} from {}/{repo} from byte {offset} on",
                self.registry()
            )
        };
        let path = format!("/v2/{repo}/blobs/{digest}");
        let request = Request::new(Method::GET, path.clone(), vec![Scope::pull(repo)])
            .header(RANGE, &format!("bytes={offset}-"))?;
        let response = self.send(request).await.with_context(context)?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let total = content_range_from(&response, offset)
                    .with_context(|| format!("{}: the registry sent another range", context()))?;
                Ok(BlobTail {
                    reader: self.resumable_body(path, repo, offset, response),
                    offset,
                    size: total,
                })
            }
            StatusCode::OK => {
                let size = content_length(&response);
                Ok(BlobTail {
                    reader: self.resumable_body(path, repo, 0, response),
                    offset: 0,
                    size,
                })
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                let (reader, size) = self.get_blob_unverified(repo, digest).await?;
                Ok(BlobTail {
                    reader,
                    offset: 0,
                    size,
                })
            }
            _ => Err(response_error(response, NotFound::IsPlainError)
                .await
                .context(context())),
        }
    }

    /// The body of a blob `response` that starts at byte `offset`, as a stream that
    /// resumes with `Range` when the connection breaks.
    fn resumable_body(
        &self,
        path: String,
        repo: &str,
        offset: u64,
        response: Response,
    ) -> BlobReader {
        Box::pin(StreamReader::new(
            self.resumable_chunks(path, repo, offset, response),
        ))
    }

    /// [`Self::resumable_body`] as the buffers it arrives in.
    fn resumable_chunks(
        &self,
        path: String,
        repo: &str,
        offset: u64,
        response: Response,
    ) -> BlobChunks {
        let download = Download {
            client: self.clone(),
            path,
            repo: repo.to_string(),
            offset,
            body: Some(response.bytes_stream()),
            failures: 0,
            finished: false,
        };
        Box::pin(futures_util::stream::unfold(download, Download::next_chunk))
    }

    /// Ask the registry to make blob `digest` of `from_repo` available in `repo` without
    /// uploading it. `false` means it did not (the caller then uploads the blob); the upload
    /// session the registry opens instead goes to `sessions`, for that upload.
    pub async fn mount_blob(
        &self,
        repo: &str,
        digest: &Digest,
        from_repo: &str,
        sessions: &UploadSessions,
    ) -> Result<bool> {
        let context = || {
            format!(
                "mounting blob {digest} from {from_repo} into {}/{repo}",
                self.registry()
            )
        };
        let scopes = vec![Scope::push(repo), Scope::pull(from_repo)];
        let request = Request::new(
            Method::POST,
            format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from_repo}"),
            scopes.clone(),
        );
        let response = self.send(request).await.with_context(context)?;
        match response.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                // The registry could not mount and started an upload instead.
                if let Ok(location) = upload_location(&response) {
                    let opened = OpenUpload {
                        location,
                        scopes,
                        blob: None,
                    };
                    self.keep_session(sessions, opened).await;
                }
                Ok(false)
            }
            _ => Err(response_error(response, NotFound::IsPlainError)
                .await
                .context(context())),
        }
    }

    /// Upload a blob from `stream`. With `expected` known the upload is one streaming
    /// `PUT …?digest=` after the `POST`; otherwise the data goes in one streaming `PATCH`,
    /// hashed on the way, and a final `PUT` names the digest. Either way the content is
    /// hashed and a mismatch with `expected` aborts the upload.
    pub async fn put_blob(
        &self,
        repo: &str,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        sessions: &UploadSessions,
    ) -> Result<WrittenBlob> {
        let digest = expected.map(|info| &info.digest);
        self.in_session(repo, sessions, digest, |location| {
            self.upload_to(repo, location, stream, expected)
        })
        .await
    }

    /// [`Self::put_blob`] of blob `info`, whose bytes are both `stream` and `file`: over
    /// plain HTTP without a proxy the `PUT …?digest=` sends `file` with `sendfile`, telling
    /// `sent` how far it got; otherwise it streams `stream`. The registry checks the digest.
    pub async fn put_file_blob(
        &self,
        repo: &str,
        stream: BlobReader,
        file: FileBlob,
        info: &BlobInfo,
        sent: SentBytes,
        sessions: &UploadSessions,
    ) -> Result<WrittenBlob> {
        let size = file.length;
        let body = Body::File(FileBody { stream, file, sent });
        self.in_session(repo, sessions, Some(&info.digest), |location| async move {
            self.put_with_digest(repo, location, body, None, info)
                .await?;
            check_uploaded_size(info, size)
        })
        .await
    }

    /// [`Self::put_blob`] of blob `info` from the buffers `chunks` (a download's), each sent
    /// as it is: no copy into buffers of the upload's own. The registry checks the digest.
    pub async fn put_blob_chunks(
        &self,
        repo: &str,
        chunks: BlobChunks,
        info: &BlobInfo,
        sessions: &UploadSessions,
    ) -> Result<WrittenBlob> {
        self.in_session(repo, sessions, Some(&info.digest), |location| {
            self.put_counted(repo, location, chunks, info)
        })
        .await
    }

    /// `upload` of blob `digest` (`None`: not known yet) through a session of `sessions` or
    /// a new one, which is cancelled when the upload fails.
    async fn in_session<F>(
        &self,
        repo: &str,
        sessions: &UploadSessions,
        digest: Option<&Digest>,
        upload: impl FnOnce(Url) -> F,
    ) -> Result<WrittenBlob>
    where
        F: std::future::Future<Output = Result<WrittenBlob>>,
    {
        let context = || format!("uploading a blob to {}/{repo}", self.registry());
        let location = self
            .start_upload(repo, sessions, digest)
            .await
            .with_context(context)?;
        let result = upload(location.clone()).await;
        if result.is_err() {
            self.cancel_upload(location, vec![Scope::push(repo)]).await;
        }
        result.with_context(context)
    }

    /// Cancel the upload sessions in `sessions` that no upload took.
    pub async fn cancel_unused_uploads(&self, sessions: &UploadSessions) {
        let cancels = sessions
            .take_all()
            .into_iter()
            .map(|upload| self.cancel_upload(upload.location, upload.scopes));
        futures_util::future::join_all(cancels).await;
    }

    /// Open an upload session (`POST`) for blob `digest`, about to be uploaded to `repo`,
    /// and keep it in `sessions` for that upload, which then starts sending at once.
    pub async fn open_upload_ahead(
        &self,
        repo: &str,
        digest: &Digest,
        sessions: &UploadSessions,
    ) -> Result<()> {
        let location = self.open_upload(repo).await?;
        let opened = OpenUpload {
            location,
            scopes: vec![Scope::push(repo)],
            blob: Some(digest.clone()),
        };
        self.keep_session(sessions, opened).await;
        Ok(())
    }

    /// Keep session `opened` in `sessions`, or cancel it when enough are kept.
    async fn keep_session(&self, sessions: &UploadSessions, opened: OpenUpload) {
        if let Some(surplus) = sessions.keep(opened) {
            self.cancel_upload(surplus.location, surplus.scopes).await;
        }
    }

    /// A session of `sessions` for blob `digest`, or else a new one; where to send its data.
    async fn start_upload(
        &self,
        repo: &str,
        sessions: &UploadSessions,
        digest: Option<&Digest>,
    ) -> Result<Url> {
        if let Some(location) = sessions.take(digest) {
            tracing::debug!("Uploading through a session opened earlier");
            return Ok(location);
        }
        self.open_upload(repo).await
    }

    /// A new upload session (`POST`); where to send its data.
    async fn open_upload(&self, repo: &str) -> Result<Url> {
        let request = Request::new(
            Method::POST,
            format!("/v2/{repo}/blobs/uploads/"),
            vec![Scope::push(repo)],
        );
        let response = self.send(request).await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(response_error(response, NotFound::IsPlainError).await);
        }
        upload_location(&response)
    }

    /// The whole blob `info` in one `PUT …?digest=` to upload `location`. The registry
    /// hashes what it receives and refuses a digest that does not match, so hashing here
    /// too would only cost CPU.
    ///
    /// A streamed `body` of known `length` goes out with a `Content-Length` rather than in
    /// chunks: the registry then reads it in as few, large reads as the socket allows, with
    /// no chunk framing to parse (distribution's registry made a third fewer reads on a
    /// copy). A body that ends short fails the request; one that runs long is cut at the
    /// length, and the registry's digest check refuses it.
    async fn put_with_digest(
        &self,
        repo: &str,
        location: Url,
        body: Body,
        length: Option<u64>,
        info: &BlobInfo,
    ) -> Result<()> {
        let url = with_digest(location, &info.digest);
        let mut request = Request::new(Method::PUT, url.as_str(), vec![Scope::push(repo)])
            .header(CONTENT_TYPE, "application/octet-stream")?;
        if let Some(length) = length {
            request = request.header(CONTENT_LENGTH, &length.to_string())?;
        }
        let request = request.body(body);
        let response = self.send(request).await?;
        expect_status(response, StatusCode::CREATED)
            .await
            .map_err(|error| refused_content(error, &info.digest))?;
        Ok(())
    }

    /// Blob `info` from `chunks` in one `PUT …?digest=` to upload `location`; not hashed
    /// (see [`Self::put_with_digest`]), but its size is counted and checked.
    async fn put_counted(
        &self,
        repo: &str,
        location: Url,
        chunks: impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static,
        info: &BlobInfo,
    ) -> Result<WrittenBlob> {
        let sent = Arc::new(AtomicU64::new(0));
        let ended = Arc::new(AtomicBool::new(false));
        let (counter, end) = (sent.clone(), ended.clone());
        let chunks = chunks
            .inspect_ok(move |chunk| {
                counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            })
            .chain(futures_util::stream::poll_fn(move |_| {
                end.store(true, Ordering::Relaxed);
                Poll::Ready(None)
            }));
        let put = self
            .put_with_digest(repo, location, Body::from_chunks(chunks), info.size, info)
            .await;
        let sent = sent.load(Ordering::Relaxed);
        if put.is_err() && ended.load(Ordering::Relaxed) {
            // A blob shorter than its size fails the sized request: said as what it is.
            check_uploaded_size(info, sent)?;
        }
        put?;
        check_uploaded_size(info, sent)
    }

    async fn upload_to(
        &self,
        repo: &str,
        location: Url,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
    ) -> Result<WrittenBlob> {
        if let Some(info) = expected {
            return self
                .put_counted(repo, location, Body::reader_chunks(stream), info)
                .await;
        }
        let (reader, summary) =
            DigestingReader::new(stream, skopos_core::digest::Algorithm::Sha256, None, None);
        let body = Body::from_reader(reader);
        let finish_location = match expected {
            Some(_) => None,
            None => {
                let request =
                    Request::new(Method::PATCH, location.as_str(), vec![Scope::push(repo)])
                        .header(CONTENT_TYPE, "application/octet-stream")?
                        .body(body);
                let response = self.send(request).await?;
                let response = expect_status(response, StatusCode::ACCEPTED).await?;
                Some(upload_location(&response)?)
            }
        };
        let written = summary
            .get()
            .context("the blob stream was not read to its end")?;
        if let Some(location) = finish_location {
            let url = with_digest(location, &written.digest);
            let request = Request::new(Method::PUT, url.as_str(), vec![Scope::push(repo)])
                .header(CONTENT_LENGTH, "0")?;
            let response = self.send(request).await?;
            expect_status(response, StatusCode::CREATED).await?;
        }
        Ok(WrittenBlob::new(written.digest, written.size))
    }

    /// Best effort: a stale upload only wastes registry space until it is purged.
    /// `scopes` are those of the request that started the upload, so its token is reused.
    async fn cancel_upload(&self, location: Url, scopes: Vec<Scope>) {
        let request = Request::new(Method::DELETE, location.as_str(), scopes);
        match self.send(request).await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => tracing::debug!("cancelling upload: status {}", response.status()),
            Err(err) => tracing::debug!("cancelling upload: {err:#}"),
        }
    }
}

/// Upload sessions open in one repository and not used yet, kept by one image's push until
/// one of its uploads takes them: those a registry opened when it could not mount a blob (a
/// `202` to `POST …?mount=`; each saves the `DELETE` that would cancel it and the `POST` that
/// would open the next one, as the distribution spec lets a client go on with such a
/// session), and those opened ahead for layers waiting for a transfer slot.
#[derive(Default)]
pub struct UploadSessions(std::sync::Mutex<Vec<OpenUpload>>);

/// An upload session, and the scopes of the request that opened it (whose token cancels it).
struct OpenUpload {
    location: Url,
    scopes: Vec<Scope>,
    /// The blob it was opened ahead for; `None`: any blob's (a failed mount's session).
    blob: Option<Digest>,
}

/// Sessions kept at most; one more is cancelled at once. A copy uploads each blob right
/// after trying to mount it, and opens sessions ahead only for the layers next in line for
/// a transfer slot, so few wait at any time.
const MAX_KEPT_UPLOAD_SESSIONS: usize = 16;

impl UploadSessions {
    /// Keep `upload`, or hand it back when enough are kept.
    fn keep(&self, upload: OpenUpload) -> Option<OpenUpload> {
        let mut kept = self.lock();
        if kept.len() >= MAX_KEPT_UPLOAD_SESSIONS {
            return Some(upload);
        }
        kept.push(upload);
        None
    }

    /// A session for blob `digest`: one opened ahead for it, or else one for any blob. A
    /// session opened ahead for another blob is left to it (taken here, it would send that
    /// blob's upload back to a `POST` of its own).
    fn take(&self, digest: Option<&Digest>) -> Option<Url> {
        let mut kept = self.lock();
        let position = kept
            .iter()
            .position(|upload| upload.blob.is_some() && upload.blob.as_ref() == digest)
            .or_else(|| kept.iter().position(|upload| upload.blob.is_none()))?;
        Some(kept.swap_remove(position).location)
    }

    fn take_all(&self) -> Vec<OpenUpload> {
        std::mem::take(&mut *self.lock())
    }

    /// The list even if a thread panicked holding it: it is consistent at every step.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<OpenUpload>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The state of a resumable blob download.
struct Download {
    client: RegistryClient,
    path: String,
    repo: String,
    offset: u64,
    body: Option<BoxStream<'static, io::Result<Bytes>>>,
    failures: u32,
    finished: bool,
}

impl Download {
    async fn next_chunk(mut self) -> Option<(io::Result<Bytes>, Download)> {
        loop {
            if self.finished {
                return None;
            }
            let Some(body) = self.body.as_mut() else {
                match reconnect(&self.client, &self.path, &self.repo, self.offset).await {
                    Ok(body) => self.body = Some(body),
                    Err(err) => {
                        self.finished = true;
                        return Some((Err(io::Error::other(format!("{err:#}"))), self));
                    }
                }
                continue;
            };
            match body.next().await {
                Some(Ok(chunk)) => {
                    self.offset += chunk.len() as u64;
                    self.failures = 0;
                    return Some((Ok(chunk), self));
                }
                Some(Err(err)) => {
                    self.body = None;
                    self.failures += 1;
                    if self.failures > MAX_RESUMES_WITHOUT_PROGRESS {
                        self.finished = true;
                        let err = anyhow::Error::new(err).context("reading blob");
                        return Some((Err(io::Error::other(format!("{err:#}"))), self));
                    }
                    tracing::debug!(
                        "blob download broke at byte {} ({err}), resuming",
                        self.offset
                    );
                }
                None => return None,
            }
        }
    }
}

/// Ask for the rest of the blob at `path` from `offset` on. (A free function: the
/// download's body stream is not `Sync`, so the future must not borrow the download.)
async fn reconnect(
    client: &RegistryClient,
    path: &str,
    repo: &str,
    offset: u64,
) -> Result<BoxStream<'static, io::Result<Bytes>>> {
    let request = Request::new(Method::GET, path, vec![Scope::pull(repo)])
        .header(RANGE, &format!("bytes={offset}-"))?;
    let response = client
        .send(request)
        .await
        .context("resuming a broken blob download")?;
    let resumed_here = response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(&format!("bytes {offset}-")));
    if response.status() != StatusCode::PARTIAL_CONTENT || !resumed_here {
        anyhow::bail!(
                "the blob download broke at byte {offset} and the registry cannot resume it (status {})",
                response.status()
            );
    }
    Ok(response.bytes_stream())
}

/// The whole blob's size from a `Content-Range: bytes OFFSET-END/TOTAL` that starts at
/// `offset` (`None` for a `*` total); an error for a range that starts elsewhere.
fn content_range_from(response: &Response, offset: u64) -> Result<Option<u64>> {
    let value = response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let range = value
        .strip_prefix("bytes ")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(span, _)| {
            span.split_once('-')
                .is_some_and(|(start, _)| start == offset.to_string())
        });
    match range {
        Some((_, "*")) => Ok(None),
        Some((_, total)) => {
            Ok(Some(total.parse().with_context(|| {
                format!("invalid Content-Range {value:?}")
            })?))
        }
        None => anyhow::bail!("Content-Range {value:?} does not start at byte {offset}"),
    }
}

fn content_length(response: &Response) -> Option<u64> {
    response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The absolute upload URL from a `Location` header (registries often send a path).
fn upload_location(response: &Response) -> Result<Url> {
    let location = response
        .headers()
        .get(LOCATION)
        .context("the registry did not say where to upload (no Location header)")?
        .to_str()
        .context("the registry sent an invalid Location header")?;
    response
        .url()
        .join(location)
        .with_context(|| format!("the registry sent an invalid upload location {location:?}"))
}

/// `url` with `digest=<digest>` added to its query.
fn with_digest(mut url: Url, digest: &Digest) -> Url {
    url.query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    url
}

async fn expect_status(response: Response, expected: StatusCode) -> Result<Response> {
    if response.status() == expected {
        return Ok(response);
    }
    Err(response_error(response, NotFound::IsPlainError).await)
}

/// Blob `info` as uploaded, `size` bytes; an error when the manifest gives another size.
fn check_uploaded_size(info: &BlobInfo, size: u64) -> Result<WrittenBlob> {
    if info.size.is_some_and(|expected_size| expected_size != size) {
        anyhow::bail!(
            "blob {} has {size} bytes, expected {}",
            info.digest,
            info.size.unwrap_or_default()
        );
    }
    Ok(WrittenBlob::new(info.digest.clone(), size))
}

/// A registry's `DIGEST_INVALID` answer to the upload of `digest`, said as what it means:
/// the bytes sent are not that blob (the copy engine leaves checking them to the registry).
fn refused_content(error: anyhow::Error, digest: &Digest) -> anyhow::Error {
    let refused = error
        .downcast_ref::<RegistryError>()
        .is_some_and(|refusal| refusal.code.as_deref() == Some("DIGEST_INVALID"));
    if refused {
        error.context(format!("blob {digest} does not match its digest"))
    } else {
        error
    }
}
