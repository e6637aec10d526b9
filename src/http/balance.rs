//! Even work for every worker, however few connections there are. The
//! kernel's `SO_REUSEPORT` hash places each connection on a listener at
//! random, so two keep-alive connections land on the same worker half the
//! time and leave a core idle. So the worker that accepts a connection keeps
//! it unless another worker has fewer open; then it hands the socket over
//! (once, at accept: the requests on it never cross a thread).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// A connection on its way to the worker that serves it, with its slot
/// under `MAX_CONNECTIONS`.
pub struct Arrival {
    pub stream: std::net::TcpStream,
    pub peer: SocketAddr,
    pub slot: OwnedSemaphorePermit,
}

pub struct Balance {
    open: Vec<AtomicUsize>,
    inboxes: Vec<UnboundedSender<Arrival>>,
}

/// Where an accepted connection is served.
pub enum Placed {
    Here(TcpStream, SocketAddr, OwnedSemaphorePermit),
    /// Handed to another worker.
    There,
}

impl Balance {
    /// The balance between `workers` workers, and each one's inbox.
    pub fn new(workers: usize) -> (Self, Vec<UnboundedReceiver<Arrival>>) {
        let (inboxes, receivers) = (0..workers).map(|_| unbounded_channel()).unzip();
        (Self { open: (0..workers).map(|_| AtomicUsize::new(0)).collect(), inboxes }, receivers)
    }

    /// Places a connection worker `me` accepted, and counts it where it goes.
    pub fn place(
        &self,
        me: usize,
        stream: TcpStream,
        peer: SocketAddr,
        slot: OwnedSemaphorePermit,
    ) -> Placed {
        let least = (0..self.open.len()).min_by_key(|&w| self.open[w].load(Ordering::Relaxed)).unwrap_or(me);
        let mine = self.open[me].load(Ordering::Relaxed);
        if least != me && self.open[least].load(Ordering::Relaxed) < mine {
            // A socket leaves its runtime's reactor as a std socket.
            if let Ok(std_stream) = stream.into_std() {
                self.open[least].fetch_add(1, Ordering::Relaxed);
                match self.inboxes[least].send(Arrival { stream: std_stream, peer, slot }) {
                    Ok(()) => return Placed::There,
                    // That worker has stopped: this one serves it after all.
                    Err(returned) => {
                        self.open[least].fetch_sub(1, Ordering::Relaxed);
                        let Arrival { stream, peer, slot } = returned.0;
                        match TcpStream::from_std(stream) {
                            Ok(stream) => return self.keep(me, stream, peer, slot),
                            Err(_) => return Placed::There,
                        }
                    }
                }
            }
            return Placed::There;
        }
        self.keep(me, stream, peer, slot)
    }

    fn keep(&self, me: usize, stream: TcpStream, peer: SocketAddr, slot: OwnedSemaphorePermit) -> Placed {
        self.open[me].fetch_add(1, Ordering::Relaxed);
        Placed::Here(stream, peer, slot)
    }

    /// A connection worker `me` served has closed.
    pub fn closed(&self, me: usize) {
        self.open[me].fetch_sub(1, Ordering::Relaxed);
    }

    /// Each worker's open connections, for `/metrics`.
    pub fn open(&self) -> Vec<usize> {
        self.open.iter().map(|open| open.load(Ordering::Relaxed)).collect()
    }
}
