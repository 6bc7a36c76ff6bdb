// `#[xiio::test]` in its forms, next to other test attributes. This binary
// is not built with `--test`, so rustc drops the test functions after the
// macros have expanded them: this case checks that the expansions are
// accepted, and `tests/macros.rs` runs the same forms.

#[xiio::test]
async fn plain() {
    xiio::sleep(std::time::Duration::from_millis(1)).await;
}

#[xiio::test]
async fn returns_a_result() -> std::io::Result<()> {
    Ok(())
}

#[xiio::test(mock_clock)]
async fn on_the_mock_clock() {
    let start = xiio::time::now();
    xiio::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(xiio::time::now() - start, std::time::Duration::from_millis(100));
}

#[xiio::test]
#[should_panic(expected = "boom")]
async fn should_panic_is_kept() {
    panic!("boom");
}

#[ignore = "shows that #[ignore] is kept"]
#[xiio::test(mock_clock)]
async fn ignore_is_kept() {}

fn main() {}
