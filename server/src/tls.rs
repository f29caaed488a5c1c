//! TLS for the listeners (rustls with ring): a certificate chain and key in
//! PEM files. Handshakes run in their own tasks with a deadline, so a slow
//! or silent client never holds up the others; a failed handshake is
//! dropped (and reported, for the audit log). The agent listener asks for
//! client certificates from the server's CA: a connection shows one, or
//! none (enrolment), never one the CA did not sign.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

/// How long a client has to finish its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The server configuration for a certificate chain and its key.
pub fn config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in it", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("{}: not a PEM private key: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
    Ok(Arc::new(config))
}

/// The agent listener's configuration: this process's certificate chain
/// (signed by the agents' CA) and the CA that client certificates must
/// come from, when a client shows one.
pub fn agent_config(
    chain: Vec<Vec<u8>>,
    key: Vec<u8>,
    ca: &[u8],
) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.to_vec())).map_err(|e| format!("the agents' CA: {e}"))?;
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| format!("the agents' CA: {e}"))?;
    let chain = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(key.into());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("the agent listener's certificate: {e}"))?;
    Ok(Arc::new(config))
}

/// Who is on the other end of an agent connection: its address and the
/// SHA-256 of the client certificate it showed (verified by rustls against
/// the CA, including its validity period).
#[derive(Clone, Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    pub fingerprint: Option<String>,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.addr)
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Listener>) -> Peer {
        let (_, connection) = stream.io().get_ref();
        let fingerprint =
            connection.peer_certificates().and_then(|c| c.first()).map(|c| crate::keys::fingerprint(c));
        Peer { addr: *stream.remote_addr(), fingerprint }
    }
}

/// A plain (loopback) admin listener's peer: its address, no certificate.
impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TcpListener>) -> Peer {
        Peer { addr: *stream.remote_addr(), fingerprint: None }
    }
}

/// Told of each failed handshake: the peer and why.
pub type OnReject = Arc<dyn Fn(SocketAddr, String) + Send + Sync>;

/// A listener whose connections are TLS streams.
pub struct Listener {
    accepted: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    /// The task that accepts and shakes hands; stopped with the listener.
    acceptor: tokio::task::JoinHandle<()>,
}

impl Listener {
    pub fn new(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
        on_reject: Option<OnReject>,
    ) -> std::io::Result<Listener> {
        let local = tcp.local_addr()?;
        let tls = tokio_rustls::TlsAcceptor::from(config);
        let (tx, accepted) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = tcp.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (tls, tx, on_reject) = (tls.clone(), tx.clone(), on_reject.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE, tls.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => {
                            if let Some(f) = on_reject {
                                f(peer, e.to_string());
                            }
                        }
                        Err(_) => {
                            if let Some(f) = on_reject {
                                f(peer, "no handshake within 10 s".into());
                            }
                        }
                    }
                });
            }
        });
        Ok(Listener { accepted, local, acceptor })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for Listener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The acceptor is gone only when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
