//! `try_join!(a, b, c)`: futures of different types in one task group, their
//! values as a tuple, the first error cancelling the rest.
//!
//! ```text
//! try_join!(a, b)   =>   match (a, b) {
//!                        (f0, f1) => match TaskGroup::scope(async |tg| Ok((tg.add_task(f0), tg.add_task(f1)))).await {
//!                            Ok((t0, t1)) => Ok((t0.take().unwrap(), t1.take().unwrap())),
//!                            Err(e) => Err(e),
//!                        },
//!                    }
//! ```
//!
//! The futures are evaluated in the outer `match`'s scrutinee, so that
//! temporaries in them (`f(&format!(..))`) live until the group has ended,
//! as with `futures::try_join!`; made inside the closure, they would be
//! dropped at the end of its statement while the future still borrows
//! them.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Token};

/// The input of `try_join!`: futures separated by commas.
///
/// ```text
/// try_join!( FUTURE [, FUTURE]* [,] )
/// ```
struct Futures(Punctuated<Expr, Token![,]>);

impl Parse for Futures {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let futures = Punctuated::parse_terminated(input)?;
        if futures.is_empty() {
            let message = "try_join! needs at least one future: write `xiio::try_join!(a, b)`";
            return Err(syn::Error::new(Span::call_site(), message));
        }
        Ok(Futures(futures))
    }
}

/// Expands `try_join!`.
pub(crate) fn try_join(input: TokenStream) -> TokenStream {
    let futures = match syn::parse2::<Futures>(input) {
        Ok(Futures(futures)) => futures,
        Err(e) => return e.into_compile_error(),
    };
    let tasks: Vec<_> = (0..futures.len())
        .map(|i| format_ident!("__xiio_task_{}", i))
        .collect();
    let futs: Vec<_> = (0..futures.len())
        .map(|i| format_ident!("__xiio_future_{}", i))
        .collect();
    let adds = futures.iter().zip(&futs).map(|(fut, name)| {
        // Spanned on the future, so a task of the wrong type is reported
        // there.
        quote_spanned! {fut.span()=> tg.add_task(#name) }
    });
    let futures = futures.iter();
    // A `match`, not `?`: the error type is the group's, with no `From`
    // conversion to infer.
    quote! {
        match (#(#futures,)*) {
            (#(#futs,)*) => match ::xiio::__private::TaskGroup::scope(async |tg| {
                ::core::result::Result::Ok((#(#adds,)*))
            })
            .await
            {
                ::core::result::Result::Ok((#(#tasks,)*)) => ::core::result::Result::Ok((
                    #(#tasks.take().expect("a task of a group that succeeded has its value"),)*
                )),
                ::core::result::Result::Err(e) => ::core::result::Result::Err(e),
            },
        }
    }
}
