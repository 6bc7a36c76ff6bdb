//! Sockets.

mod emfile;
mod happy_eyeballs;
mod tcp;
mod udp;
mod unix;
