//! Accepting mTLS connections for a tonic server, under [`server_config`](crate::server_config).
//!
//! tonic's own `ServerTlsConfig` builds a second rustls configuration from PEM bytes, with the
//! process-wide default crypto provider. Handing tonic connections that this crate has already
//! accepted keeps one server configuration for every role: the one built here with the ring
//! provider and checked by this crate's tests. tonic still reads the client's certificate from
//! each connection (`Request::peer_certs`), as with its own TLS.
//!
//! Before a client has completed its handshake nobody knows who it is, so what an
//! unauthenticated client can hold is bounded here, by [`AcceptLimits`]: how long a handshake
//! may take, how many run at once (beyond that the loop stops accepting until one ends, so the
//! kernel's backlog holds the rest), and how many connections are open at all (beyond that a new
//! one is closed as soon as it is accepted).

use rustls::ServerConfig;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};

/// What the accept loop allows before and around handshakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptLimits {
    /// How long a client has to complete its handshake: one that stalls would otherwise hold a
    /// socket and a task for as long as it likes.
    pub handshake_timeout: Duration,
    /// Handshakes in progress at once; the loop accepts no more until one ends.
    pub max_handshakes: usize,
    /// Connections open at once, in a handshake or after it; one more is closed at once.
    pub max_connections: usize,
}

impl Default for AcceptLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            max_handshakes: 64,
            max_connections: 1024,
        }
    }
}

/// A connection after its mTLS handshake. It holds its place among the
/// [`AcceptLimits::max_connections`] until tonic drops it.
#[derive(Debug)]
pub struct TlsConnection {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    _open: OwnedSemaphorePermit,
}

impl TlsConnection {
    /// The TCP stream and the TLS session (e.g. the peer's certificates).
    pub fn get_ref(&self) -> (&TcpStream, &rustls::ServerConnection) {
        self.stream.get_ref()
    }
}

/// Connections handed to the server while it has not yet taken them.
const QUEUE: usize = 64;

/// The connections accepted on `listener` under the default [`AcceptLimits`]; see
/// [`incoming_with`].
pub fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
) -> ReceiverStream<io::Result<TlsConnection>> {
    incoming_with(listener, config, AcceptLimits::default())
}

/// The connections accepted on `listener`, each after a completed handshake under `config`
/// (for a tonic server's `serve_with_incoming`), within `limits`. A connection that fails its
/// handshake is yielded as an error, which tonic skips. Handshakes run concurrently, so a slow
/// client does not hold up the others; accepting stops when the stream is dropped. Must be
/// called on a Tokio runtime.
pub fn incoming_with(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    limits: AcceptLimits,
) -> ReceiverStream<io::Result<TlsConnection>> {
    let (accepted, stream) = mpsc::channel(QUEUE);
    let acceptor = TlsAcceptor::from(config);
    let handshakes = Arc::new(Semaphore::new(limits.max_handshakes.max(1)));
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::spawn(async move {
        loop {
            // Not accepting while every handshake slot is taken: the backlog waits instead.
            let handshake_slot = tokio::select! {
                () = accepted.closed() => return,
                slot = Arc::clone(&handshakes).acquire_owned() => slot,
            };
            let Ok(handshake_slot) = handshake_slot else {
                return; // The semaphore is never closed.
            };
            let connection = tokio::select! {
                () = accepted.closed() => return,
                connection = listener.accept() => connection,
            };
            let tcp = match connection {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    if accepted.send(Err(e)).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let Ok(open_slot) = Arc::clone(&open).try_acquire_owned() else {
                // Closed at once, so the client learns it now instead of waiting in a queue.
                // (Not logged: a flood would flood the log too.)
                drop(tcp);
                continue;
            };
            // Without this a reply written while an earlier one is unacknowledged waits for the
            // peer's delayed ACK (up to 40 ms on Linux) at every hop of the chain. A socket that
            // refuses is still served, only slower.
            let _ = tcp.set_nodelay(true);
            let (acceptor, accepted) = (acceptor.clone(), accepted.clone());
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await;
                drop(handshake_slot);
                let connection = match handshake {
                    Ok(Ok(stream)) => Ok(TlsConnection {
                        stream,
                        _open: open_slot,
                    }),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client did not complete its TLS handshake in time \
                         [limits.handshake_timeout_seconds]",
                    )),
                };
                // The server is gone when this fails; the connection is dropped with it.
                let _ = accepted.send(connection).await;
            });
        }
    });
    ReceiverStream::new(stream)
}

impl Connected for TlsConnection {
    type ConnectInfo = TlsConnectInfo<TcpConnectInfo>;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
