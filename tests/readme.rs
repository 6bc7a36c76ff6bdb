//! The test shown in README.md's "Testing with the mock clock".

use std::time::Duration;

#[xiio::test(mock_clock)]
async fn sleeps_overlap() {
    let start = xiio::now();
    xiio::gather([100, 100].map(|ms| async move {
        xiio::sleep(Duration::from_millis(ms)).await;
        Ok::<_, ()>(())
    }))
    .await
    .unwrap();
    assert_eq!(xiio::now() - start, Duration::from_millis(100));
}
