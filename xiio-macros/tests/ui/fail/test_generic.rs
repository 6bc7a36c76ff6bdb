#[xiio::test]
async fn checks_things<T>()
where
    T: Default,
{
}

fn main() {}
