#[xiio::main(mock_clock, mock_clock)]
async fn main() {}
