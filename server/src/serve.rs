//! The listeners' connections: admitted under limits (per source address
//! and in all, across both listeners), TLS where configured, HTTP/1 with a
//! deadline for a request's head and one for a connection that moves no
//! byte, and closed gracefully when the server stops.
//!
//! Without these, a client that opens connections and sends half a header
//! holds a file descriptor each for ever: a thousand of them stop both
//! listeners (issue #27.7).

use crate::tls::Peer;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a TLS client has to finish its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// How long open requests have to finish once the server stops (a long
/// poll ends within its 30 s).
const DRAIN: Duration = Duration::from_secs(35);

/// What one connection, and one source, may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// From a connection's first byte of a request (or its last answer) to
    /// the end of the request's head.
    pub header_read: Duration,
    /// A connection that moves no byte either way for this long, while the
    /// server waits for its client (no request of it being answered), is
    /// closed.
    pub idle: Duration,
    /// Connections open at once from one address.
    pub per_ip: usize,
    /// Connections open at once in all (kept below the file descriptors
    /// the process may open, see [`raise_file_limit`]).
    pub total: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            per_ip: 256,
            // The open-file limit decides (docs/security.md): a fleet of
            // 10,000 agents holds 10,000 long-polling connections.
            total: usize::MAX,
        }
    }
}

/// Raises the soft limit on open files to the hard one (as Go's runtime
/// does); the connections the server may hold: what that allows, less a
/// reserve for the database, blobs and logs.
pub(crate) fn raise_file_limit() -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        // Best effort: the soft limit stays as it was when refused.
        let _ = setrlimit(Resource::Nofile, limit);
    }
    let open = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    usize::try_from(open.saturating_sub(128)).unwrap_or(usize::MAX).max(64)
}

/// Why a connection was closed at once, and from where.
pub(crate) type OnRefuse = Arc<dyn Fn(SocketAddr, &'static str, String) + Send + Sync>;

/// The connections open, by source address; a [`Permit`] is one of them.
pub(crate) struct Gate {
    limits: Limits,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

impl Gate {
    pub(crate) fn new(limits: Limits) -> Arc<Gate> {
        Arc::new(Gate { limits, open: Mutex::new(Open::default()) })
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        // The counts stay right whatever panicked while holding the lock.
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn enter(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, String> {
        let mut open = self.open();
        if open.total >= self.limits.total {
            return Err(format!("the server holds {} connections, its limit", open.total));
        }
        let n = open.by_ip.entry(ip).or_default();
        if *n >= self.limits.per_ip {
            return Err(format!("{ip} holds {n} connections, the limit for one address"));
        }
        *n += 1;
        open.total += 1;
        Ok(Permit { gate: self.clone(), ip })
    }
}

/// One admitted connection; dropping it (the connection ended) gives the
/// place back.
struct Permit {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.gate.open();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_ip.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `stop`; with `tls`, every
/// connection shakes hands first (a client certificate, if the
/// configuration asks for one, is in the handlers' [`Peer`]).
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: axum::Router,
    gate: Arc<Gate>,
    on_refuse: OnRefuse,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, or the peer left before accept:
                // the next accept may do better.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stopped => break,
        };
        let permit = match gate.enter(addr.ip()) {
            Ok(permit) => permit,
            Err(why) => {
                drop(tcp);
                on_refuse(addr, "connection.refused", why);
                continue;
            }
        };
        let (router, tls, watcher, on_refuse) =
            (router.clone(), tls.clone(), graceful.watcher(), on_refuse.clone());
        let limits = gate.limits;
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tcp.set_nodelay(true);
            let Some(tls) = tls else {
                let peer = Peer { addr, fingerprint: None };
                return connection(tcp, peer, router, limits, watcher).await;
            };
            match tokio::time::timeout(HANDSHAKE, tls.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let (_, session) = stream.get_ref();
                    let fingerprint = session
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| crate::keys::fingerprint(c));
                    connection(stream, Peer { addr, fingerprint }, router, limits, watcher).await;
                }
                Ok(Err(e)) => on_refuse(addr, "tls.rejected", e.to_string()),
                Err(_) => {
                    on_refuse(addr, "tls.rejected", format!("no handshake within {} s", HANDSHAKE.as_secs()))
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

/// HTTP/1 on one connection, its peer in every request's extensions.
async fn connection<IO>(
    io: IO,
    peer: Peer,
    router: axum::Router,
    limits: Limits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let answering = Arc::new(AtomicUsize::new(0));
    let counted = answering.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer.clone()));
        let turn = Arc::new(Turn::new(&counted));
        if hyper::body::Body::is_end_stream(request.body()) {
            turn.start();
        }
        let told = turn.clone();
        let request = request.map(move |body| axum::body::Body::new(Told { body, turn: told }));
        let answer = router.clone().oneshot(request);
        async move {
            let response = answer.await;
            turn.finish();
            response
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read);
    let conn = http.serve_connection(TokioIo::new(Idle::new(io, limits.idle, answering)), service);
    // A connection's error (the client left, a deadline passed) is its own.
    let _ = watcher.watch(conn).await;
}

/// One request's turn on its connection. From the end of its body (the
/// client has said all it will) to its answer's head, the server is the one
/// working: the connection is not idle, however long the answer takes (a
/// preview over a whole fleet). Before that, a stalled body is the
/// client's silence, and the idle deadline applies.
struct Turn {
    /// The connection's count of requests being answered.
    answering: Arc<AtomicUsize>,
    /// 0: the body is still coming; 1: being answered (counted); 2: done.
    state: AtomicU8,
}

impl Turn {
    fn new(answering: &Arc<AtomicUsize>) -> Turn {
        Turn { answering: answering.clone(), state: AtomicU8::new(0) }
    }

    fn start(&self) {
        if self.state.compare_exchange(0, 1, AtomicOrdering::Relaxed, AtomicOrdering::Relaxed).is_ok() {
            self.answering.fetch_add(1, AtomicOrdering::Relaxed);
        }
    }

    fn finish(&self) {
        if self.state.swap(2, AtomicOrdering::Relaxed) == 1 {
            self.answering.fetch_sub(1, AtomicOrdering::Relaxed);
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A request's body that starts its [`Turn`] when it ends.
struct Told {
    body: hyper::body::Incoming,
    turn: Arc<Turn>,
}

impl hyper::body::Body for Told {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || this.body.is_end_stream() {
            this.turn.start();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A stream that fails once no byte has moved either way for `limit`
/// while it waits to read or to write and no request is being answered.
struct Idle<IO> {
    io: IO,
    limit: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
    answering: Arc<AtomicUsize>,
}

impl<IO> Idle<IO> {
    fn new(io: IO, limit: Duration, answering: Arc<AtomicUsize>) -> Idle<IO> {
        Idle { io, limit, deadline: Box::pin(tokio::time::sleep(limit)), answering }
    }

    fn moved(&mut self) {
        let next = tokio::time::Instant::now() + self.limit;
        self.deadline.as_mut().reset(next);
    }

    fn waiting<T>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        if self.answering.load(AtomicOrdering::Relaxed) > 0 {
            // The deadline starts again from now; polling it once more
            // wakes this stream then, to look again.
            self.moved();
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no byte moved for {} s", self.limit.as_secs()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Idle<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.waiting(cx),
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Idle<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, data) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.waiting(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.waiting(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => this.waiting(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_counts_by_address_and_in_all() {
        let gate = Gate::new(Limits { per_ip: 2, total: 3, ..Limits::default() });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = gate.enter(a).unwrap();
        let _second = gate.enter(a).unwrap();
        assert!(gate.enter(a).err().unwrap().contains("the limit for one address"));
        let _third = gate.enter(b).unwrap();
        assert!(gate.enter(b).err().unwrap().contains("its limit"));
        drop(first);
        assert!(gate.enter(a).is_ok(), "a closed connection gives its place back");
        assert!(gate.open().by_ip.len() <= 2);
    }
}
