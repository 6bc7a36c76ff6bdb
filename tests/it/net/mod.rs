//! Sockets.

mod emfile;
mod happy_eyeballs;
mod readiness;
mod tcp;
mod udp;
mod unix;
