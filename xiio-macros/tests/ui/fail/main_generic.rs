#[xiio::main]
async fn main<T: Default>() {}
