//! `#[xiio::main]` and `#[xiio::test]`: an `async fn` becomes a plain `fn`
//! whose body runs on a fresh runtime.
//!
//! ```text
//! #[xiio::test(mock_clock)]            #[test]
//! async fn name() -> Ret {     =>      fn name() -> Ret {
//!     body                                 ::xiio::__private::Builder::new()
//! }                                            .mock_clock(true)
//!                                              .run(async move { body })
//!                                      }
//! ```

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, ItemFn, Meta, Token};

/// Which attribute is expanded. The two differ only in the `#[test]` that
/// `Test` adds and in the wording of their errors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// `#[xiio::main]`.
    Main,
    /// `#[xiio::test]`.
    Test,
}

impl Entry {
    /// The attribute as users write it, for error messages.
    fn name(self) -> &'static str {
        match self {
            Entry::Main => "#[xiio::main]",
            Entry::Test => "#[xiio::test]",
        }
    }
}

/// The attribute's arguments, as in `#[xiio::test(mock_clock)]`.
#[derive(Default)]
struct Config {
    /// Run on the mock clock (`Builder::mock_clock(true)`), so that timing
    /// tests assert exact durations.
    mock_clock: bool,
    /// `seed = N`: poll woken tasks in the order this seed gives
    /// (`Builder::seed(N)`).
    seed: Option<syn::LitInt>,
}

/// Expands `#[xiio::main(args)] item`.
pub(crate) fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Entry::Main, args, item)
}

/// Expands `#[xiio::test(args)] item`.
pub(crate) fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Entry::Test, args, item)
}

/// Parses and checks the attribute's arguments and function, then writes the
/// plain function. On errors it writes the function as it would expand with
/// no arguments, followed by every error found, so that one mistake does not
/// hide the rest of the code from the compiler and the IDE.
fn expand(entry: Entry, args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let message = format!("{} goes on an async fn: {error}", entry.name());
            let error = syn::Error::new(error.span(), message).into_compile_error();
            return quote! { #item #error };
        }
    };

    let mut errors = Vec::new();
    let config = parse_args(args, &mut errors);
    check_function(entry, &function, &mut errors);

    let error = errors.into_iter().reduce(|mut all, next| {
        all.combine(next);
        all
    });
    match error {
        None => generate(entry, function, &config),
        Some(error) => {
            let mut tokens = generate(entry, function, &Config::default());
            tokens.extend(error.into_compile_error());
            tokens
        }
    }
}

/// Reads the arguments: nothing, `mock_clock` once, `seed = N` once.
/// Errors go to `errors` and the argument in error is ignored.
fn parse_args(args: TokenStream, errors: &mut Vec<syn::Error>) -> Config {
    let mut config = Config::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
        Ok(metas) => metas,
        Err(error) => {
            errors.push(error);
            return config;
        }
    };
    for meta in metas {
        match meta {
            Meta::Path(path) if path.is_ident("mock_clock") => {
                if config.mock_clock {
                    let message = "duplicate argument `mock_clock`: write it once";
                    errors.push(syn::Error::new_spanned(path, message));
                }
                config.mock_clock = true;
            }
            Meta::List(_) | Meta::NameValue(_) if meta.path().is_ident("mock_clock") => {
                let message = "`mock_clock` takes no value: write `mock_clock` alone";
                errors.push(syn::Error::new_spanned(meta, message));
            }
            Meta::NameValue(ref name_value) if name_value.path.is_ident("seed") => {
                let seed = match &name_value.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(seed),
                        ..
                    }) if seed.base10_parse::<u64>().is_ok() => seed.clone(),
                    value => {
                        let message = "`seed` takes a number: write `seed = 42`";
                        errors.push(syn::Error::new_spanned(value, message));
                        continue;
                    }
                };
                if config.seed.is_some() {
                    let message = "duplicate argument `seed`: write it once";
                    errors.push(syn::Error::new_spanned(&name_value.path, message));
                }
                config.seed = Some(seed);
            }
            Meta::Path(_) | Meta::List(_) if meta.path().is_ident("seed") => {
                let message = "`seed` takes a number: write `seed = 42`";
                errors.push(syn::Error::new_spanned(meta, message));
            }
            _ => {
                let path = meta.path();
                let name = path.to_token_stream().to_string().replace(' ', "");
                let message = format!(
                    "unknown argument `{name}`; the arguments are `mock_clock` and `seed = N`"
                );
                errors.push(syn::Error::new_spanned(path, message));
            }
        }
    }
    config
}

/// Checks that the function can become `fn name() -> Ret`: async, with no
/// parameters, no generics and, for a test, no `#[test]` of its own.
fn check_function(entry: Entry, function: &ItemFn, errors: &mut Vec<syn::Error>) {
    let sig = &function.sig;
    let name = entry.name();
    let ident = &sig.ident;

    if sig.asyncness.is_none() {
        let message = format!("{name} needs an async fn: write `async fn {ident}()`");
        errors.push(syn::Error::new_spanned(sig.fn_token, message));
    }
    if !sig.inputs.is_empty() {
        let message = match entry {
            Entry::Main => format!(
                "{name} needs a function without parameters: remove them \
                 (read command-line arguments with `std::env::args()`)"
            ),
            Entry::Test => format!("{name} needs a function without parameters: remove them"),
        };
        errors.push(syn::Error::new_spanned(&sig.inputs, message));
    }
    let message = format!("{name} needs a function without generics: remove them");
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(&sig.generics, &message));
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(where_clause, &message));
    }
    if entry == Entry::Test
        && let Some(attr) = function.attrs.iter().find(|attr| is_test_attr(attr))
    {
        let message = format!("{name} adds `#[test]` itself: remove this attribute");
        errors.push(syn::Error::new_spanned(attr, message));
    }
}

/// Whether `attr` is `#[test]` (or `#[core::prelude::v1::test]` and the
/// like).
fn is_test_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "test")
        && matches!(attr.meta, Meta::Path(_))
}

/// Writes the plain function: the same attributes, visibility, name and
/// return type, with the body moved into `async move { ... }` and run by a
/// new runtime. The new body carries the span of the user's body, so a body
/// whose value does not match the return type is reported there.
fn generate(entry: Entry, function: ItemFn, config: &Config) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block: body,
    } = function;
    sig.asyncness = None;

    let span = body.brace_token.span.join();
    let mock_clock = config
        .mock_clock
        .then(|| quote_spanned! {span=> .mock_clock(true) });
    let seed = config
        .seed
        .as_ref()
        .map(|seed| quote_spanned! {span=> .seed(#seed) });
    // A test takes a seed from XIIO_SEED and prints its seed on failure.
    let for_test = (entry == Entry::Test).then(|| quote_spanned! {span=> .for_test() });
    let body = quote_spanned! {span=>
        {
            ::xiio::__private::Builder::new()
                #mock_clock
                #seed
                #for_test
                .run(async move #body)
        }
    };

    // A `#[test]` already there is an error (see `check_function`); the
    // function emitted next to that error keeps it rather than getting two.
    let has_test_attr = attrs.iter().any(is_test_attr);
    let test_attr = (entry == Entry::Test && !has_test_attr).then(|| quote! { #[test] });
    quote! {
        #test_attr
        #(#attrs)*
        #vis #sig #body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_tokens_eq, compile_errors};

    #[test]
    fn main_becomes_a_plain_fn_running_its_body() {
        let output = main(
            quote! {},
            quote! {
                /// Docs stay.
                async fn main() {
                    hello().await;
                }
            },
        );
        let expected = quote! {
            /// Docs stay.
            fn main() {
                ::xiio::__private::Builder::new()
                    .run(async move {
                        hello().await;
                    })
            }
        };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn main_keeps_visibility_and_return_type() {
        let output = main(
            quote! {},
            quote! {
                pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
                    work().await?;
                    Ok(())
                }
            },
        );
        let expected = quote! {
            pub fn main() -> Result<(), Box<dyn std::error::Error>> {
                ::xiio::__private::Builder::new()
                    .run(async move {
                        work().await?;
                        Ok(())
                    })
            }
        };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn main_with_mock_clock() {
        let output = main(quote! { mock_clock }, quote! { async fn main() {} });
        let expected = quote! {
            fn main() {
                ::xiio::__private::Builder::new()
                    .mock_clock(true)
                    .run(async move {})
            }
        };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn test_adds_test_attribute_and_keeps_others() {
        let output = test(
            quote! { mock_clock },
            quote! {
                #[should_panic(expected = "boom")]
                async fn it_panics() -> std::io::Result<()> {
                    panic!("boom")
                }
            },
        );
        let expected = quote! {
            #[test]
            #[should_panic(expected = "boom")]
            fn it_panics() -> std::io::Result<()> {
                ::xiio::__private::Builder::new()
                    .mock_clock(true)
                    .for_test()
                    .run(async move {
                        panic!("boom")
                    })
            }
        };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn test_without_arguments_has_no_mock_clock() {
        let output = test(quote! {}, quote! { async fn it_works() {} });
        let expected = quote! {
            #[test]
            fn it_works() {
                ::xiio::__private::Builder::new().for_test().run(async move {})
            }
        };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn test_with_a_seed() {
        let output = test(
            quote! { mock_clock, seed = 7 },
            quote! { async fn it_works() {} },
        );
        let expected = quote! {
            #[test]
            fn it_works() {
                ::xiio::__private::Builder::new()
                    .mock_clock(true)
                    .seed(7)
                    .for_test()
                    .run(async move {})
            }
        };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn a_seed_that_is_not_a_number_is_an_error() {
        let output = test(quote! { seed = "x" }, quote! { async fn it_works() {} });
        assert_eq!(
            compile_errors(output),
            ["`seed` takes a number: write `seed = 42`"]
        );
    }

    #[test]
    fn not_async_is_an_error_but_the_function_is_still_emitted() {
        let output = main(quote! {}, quote! { fn main() { work(); } });
        assert_eq!(
            compile_errors(output.clone()),
            ["#[xiio::main] needs an async fn: write `async fn main()`"]
        );
        let function = quote! {
            fn main() {
                ::xiio::__private::Builder::new().run(async move { work(); })
            }
        };
        assert!(output.to_string().starts_with(&function.to_string()));
    }

    #[test]
    fn test_not_async_names_the_test() {
        let output = test(quote! {}, quote! { fn checks_things() {} });
        assert_eq!(
            compile_errors(output),
            ["#[xiio::test] needs an async fn: write `async fn checks_things()`"]
        );
    }

    #[test]
    fn unknown_argument() {
        let output = main(
            quote! { flavor = "current_thread" },
            quote! { async fn main() {} },
        );
        assert_eq!(
            compile_errors(output),
            ["unknown argument `flavor`; the arguments are `mock_clock` and `seed = N`"]
        );
    }

    #[test]
    fn duplicate_argument() {
        let output = test(
            quote! { mock_clock, mock_clock },
            quote! { async fn t() {} },
        );
        assert_eq!(
            compile_errors(output),
            ["duplicate argument `mock_clock`: write it once"]
        );
    }

    #[test]
    fn argument_with_a_value() {
        let output = test(quote! { mock_clock = true }, quote! { async fn t() {} });
        assert_eq!(
            compile_errors(output),
            ["`mock_clock` takes no value: write `mock_clock` alone"]
        );
    }

    #[test]
    fn parameters() {
        let output = main(quote! {}, quote! { async fn main(args: Vec<String>) {} });
        assert_eq!(
            compile_errors(output),
            [
                "#[xiio::main] needs a function without parameters: remove them \
              (read command-line arguments with `std::env::args()`)"
            ]
        );
        let output = test(quote! {}, quote! { async fn t(x: u32) {} });
        assert_eq!(
            compile_errors(output),
            ["#[xiio::test] needs a function without parameters: remove them"]
        );
    }

    #[test]
    fn generics() {
        let output = test(quote! {}, quote! { async fn t<T: Default>() {} });
        assert_eq!(
            compile_errors(output),
            ["#[xiio::test] needs a function without generics: remove them"]
        );
        let output = test(quote! {}, quote! { async fn t() where u8: Copy {} });
        assert_eq!(
            compile_errors(output),
            ["#[xiio::test] needs a function without generics: remove them"]
        );
    }

    #[test]
    fn test_with_its_own_test_attribute() {
        let output = test(quote! {}, quote! { #[test] async fn t() {} });
        assert_eq!(
            compile_errors(output.clone()),
            ["#[xiio::test] adds `#[test]` itself: remove this attribute"]
        );
        // The function is still emitted, with one `#[test]`, not two.
        let function = quote! {
            #[test]
            fn t() {
                ::xiio::__private::Builder::new().for_test().run(async move {})
            }
        };
        assert!(output.to_string().starts_with(&function.to_string()));
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let output = main(quote! { foo }, quote! { fn main<T>(x: T) {} });
        assert_eq!(
            compile_errors(output),
            [
                "unknown argument `foo`; the arguments are `mock_clock` and `seed = N`",
                "#[xiio::main] needs an async fn: write `async fn main()`",
                "#[xiio::main] needs a function without parameters: remove them \
                 (read command-line arguments with `std::env::args()`)",
                "#[xiio::main] needs a function without generics: remove them",
            ]
        );
    }

    #[test]
    fn not_a_function() {
        let output = main(quote! {}, quote! { struct Main; });
        let errors = compile_errors(output.clone());
        assert_eq!(errors, ["#[xiio::main] goes on an async fn: expected `fn`"]);
        assert!(output.to_string().starts_with("struct Main ;"));
    }
}
