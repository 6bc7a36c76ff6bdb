//! Connecting to several addresses as RFC 8305 says, on the mock clock so
//! every delay is exact: loopback addresses that refuse (a bound port with
//! no listener), that hang (a listener whose accept queue is full drops
//! every SYN) and that accept.

use std::io::{self, ErrorKind};
use std::net::{Ipv6Addr, SocketAddr};

use xiio::net::{ConnectError, TcpConnector, TcpListener, TcpStream};

use crate::util::net::{HangingListener, RefusingAddr, connecting_to};
use crate::util::{ms, run_mock, since};

/// A listener that accepts, and its address.
fn accepting() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

#[test]
fn a_refusing_first_address_starts_the_second_at_once() {
    let refusing = RefusingAddr::new();
    let (_listener, good) = accepting();
    run_mock(async {
        let start = xiio::time::now();
        let stream = TcpStream::connect([refusing.addr(), good]).await?;
        assert_eq!(stream.peer_addr()?, good);
        assert_eq!(since(start), ms(0));
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn a_hanging_first_address_starts_the_second_after_250_ms_and_is_closed() {
    let hanging = HangingListener::new();
    let (_listener, good) = accepting();
    run_mock(async {
        let start = xiio::time::now();
        let stream = TcpStream::connect([hanging.addr(), good]).await?;
        assert_eq!(stream.peer_addr()?, good);
        assert_eq!(since(start), ms(250));
        // The first attempt lost: it was cancelled and its socket closed.
        assert_eq!(connecting_to(hanging.addr()), 0);
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn the_attempt_delay_is_configurable() {
    let hanging = [HangingListener::new(), HangingListener::new()];
    let (_listener, good) = accepting();
    run_mock(async {
        let start = xiio::time::now();
        let connector = TcpConnector::new().attempt_delay(ms(100));
        let addrs = [hanging[0].addr(), hanging[1].addr(), good];
        let stream = connector.connect(&addrs[..]).await?;
        assert_eq!(stream.peer_addr()?, good);
        assert_eq!(since(start), ms(200), "two hanging attempts of 100 ms each");
        assert_eq!(connecting_to(hanging[0].addr()), 0);
        assert_eq!(connecting_to(hanging[1].addr()), 0);
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn a_failure_during_the_delay_starts_the_next_attempt_at_once() {
    // The first attempt hangs; the second is refused at 250 ms, so the
    // third starts then, without waiting another 250 ms.
    let hanging = HangingListener::new();
    let refusing = RefusingAddr::new();
    let (_listener, good) = accepting();
    run_mock(async {
        let start = xiio::time::now();
        let stream = TcpStream::connect([hanging.addr(), refusing.addr(), good]).await?;
        assert_eq!(stream.peer_addr()?, good);
        assert_eq!(since(start), ms(250));
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn the_first_connection_wins_and_no_later_attempt_starts() {
    let hanging = HangingListener::new();
    let (_listener, good) = accepting();
    run_mock(async {
        let start = xiio::time::now();
        // The good address first: the hanging one is never tried.
        let stream = TcpStream::connect([good, hanging.addr()]).await?;
        assert_eq!(stream.peer_addr()?, good);
        assert_eq!(since(start), ms(0));
        assert_eq!(connecting_to(hanging.addr()), 0);
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn when_every_attempt_fails_the_error_names_every_address() {
    let refusing = [RefusingAddr::new(), RefusingAddr::new()];
    run_mock(async {
        let addrs = vec![refusing[0].addr(), refusing[1].addr()];
        let err = TcpStream::connect(addrs.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        let message = err.to_string();
        for addr in &addrs {
            assert!(message.contains(&addr.to_string()), "{message}");
        }
        let inner = err
            .get_ref()
            .unwrap()
            .downcast_ref::<ConnectError>()
            .unwrap();
        let tried: Vec<_> = inner.attempts().iter().map(|(a, _)| *a).collect();
        assert_eq!(tried, addrs);
        assert!(
            inner
                .attempts()
                .iter()
                .all(|(_, e)| e.kind() == ErrorKind::ConnectionRefused)
        );
    });
}

#[test]
fn families_are_interleaved_in_the_resolvers_order() {
    // Two IPv4 addresses, then one IPv6: tried v4, v6, v4. (Where IPv6 is
    // missing the v6 attempt fails at once too, which is all this needs.)
    let v4 = [RefusingAddr::new(), RefusingAddr::new()];
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, v4[0].addr().port()));
    run_mock(async {
        let addrs = [v4[0].addr(), v4[1].addr(), v6];
        let err = TcpStream::connect(&addrs[..]).await.unwrap_err();
        let inner = err
            .get_ref()
            .unwrap()
            .downcast_ref::<ConnectError>()
            .unwrap();
        let tried: Vec<_> = inner.attempts().iter().map(|(a, _)| *a).collect();
        assert_eq!(tried, [v4[0].addr(), v6, v4[1].addr()]);
    });
}

#[test]
fn repeated_addresses_are_tried_once() {
    let refusing = RefusingAddr::new();
    run_mock(async {
        let err = TcpStream::connect([refusing.addr(), refusing.addr()])
            .await
            .unwrap_err();
        let inner = err
            .get_ref()
            .unwrap()
            .downcast_ref::<ConnectError>()
            .unwrap();
        assert_eq!(inner.attempts().len(), 1);
    });
}

#[test]
fn a_timeout_around_connect_cancels_every_attempt() {
    let hanging = [HangingListener::new(), HangingListener::new()];
    run_mock(async {
        let start = xiio::time::now();
        let addrs = [hanging[0].addr(), hanging[1].addr()];
        let attempt = xiio::timeout(ms(400), TcpStream::connect(addrs)).await;
        assert!(attempt.is_err());
        assert_eq!(since(start), ms(400));
        assert_eq!(connecting_to(hanging[0].addr()), 0);
        assert_eq!(connecting_to(hanging[1].addr()), 0);
        assert_eq!(xiio::testing::registered_fds(), Vec::<i32>::new());
    });
}

#[test]
fn host_names_are_resolved_off_the_runtime_thread() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // On the real clock: the lookup runs on the thread pool. "localhost"
    // may also give ::1, where nobody listens: that attempt fails and the
    // IPv4 one wins.
    xiio::run(async {
        for stream in [
            TcpStream::connect(("localhost", port)).await?,
            TcpStream::connect(format!("localhost:{port}")).await?,
        ] {
            assert_eq!(stream.peer_addr()?.port(), port);
        }
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn an_unknown_host_is_an_error_not_a_panic() {
    xiio::run(async {
        // .invalid never resolves (RFC 2606).
        let err = TcpStream::connect("no-such-host.invalid:80")
            .await
            .unwrap_err();
        assert_ne!(err.kind(), ErrorKind::Other, "{err}");
    });
}
