//! `select! { pat = fut => expr, ... }`: the first future to finish wins,
//! the others are cancelled and their cleanups awaited, then the winner's
//! arm runs.
//!
//! ```text
//! select! { a = fa => ea, b = fb => eb }
//!   =>
//! {
//!     enum Branch<A, B> { A(A), B(B) }
//!     fn boxed<T>(f: impl Future<Output = T>) -> Pin<Box<dyn Future<Output = T>>>
//!     match race([boxed(async { Branch::A(fa.await) }),
//!                 boxed(async { Branch::B(fb.await) })]).await {
//!         Branch::A(a) => ea,
//!         Branch::B(b) => eb,
//!     }
//! }
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Pat, Token};

/// One arm: `PATTERN = FUTURE => EXPRESSION`.
struct Arm {
    /// What the winner's output is matched against.
    pat: Pat,
    /// The future.
    fut: Expr,
    /// What the `select!` evaluates to when this future wins.
    body: Expr,
}

/// The input of `select!`: arms separated by commas.
///
/// ```text
/// select! { PATTERN = FUTURE => EXPRESSION [, PATTERN = FUTURE => EXPRESSION]* [,] }
/// ```
struct Arms(Vec<Arm>);

impl Parse for Arms {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut arms = Vec::new();
        while !input.is_empty() {
            let pat = Pat::parse_single(input)?;
            if input.peek(Token![=>]) {
                // `future => expression`: what was read as a pattern is the
                // future.
                let message = "expected `pattern =` before the future: \
                               write `pattern = future => expression`";
                return Err(syn::Error::new_spanned(pat, message));
            }
            let eq: Result<Token![=], _> = input.parse();
            if let Err(e) = eq {
                let message = "expected `=`: write `pattern = future => expression`";
                return Err(syn::Error::new(e.span(), message));
            }
            let fut = Expr::parse_without_eager_brace(input)?;
            if !input.peek(Token![=>]) {
                let message = "expected `=> expression` after the future: \
                               write `pattern = future => expression`";
                return Err(syn::Error::new_spanned(fut, message));
            }
            input.parse::<Token![=>]>()?;
            let body: Expr = input.parse()?;
            arms.push(Arm { pat, fut, body });
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        if arms.is_empty() {
            let message = "select! needs at least one arm: `pattern = future => expression`";
            return Err(syn::Error::new(Span::call_site(), message));
        }
        Ok(Arms(arms))
    }
}

/// Expands `select!`.
pub(crate) fn select(input: TokenStream) -> TokenStream {
    let arms = match syn::parse2::<Arms>(input) {
        Ok(Arms(arms)) => arms,
        Err(e) => return e.into_compile_error(),
    };
    let variants: Vec<_> = (0..arms.len()).map(|i| format_ident!("Arm{}", i)).collect();
    let params: Vec<_> = (0..arms.len()).map(|i| format_ident!("T{}", i)).collect();
    let runners = arms.iter().zip(&variants).map(|(arm, variant)| {
        let fut = &arm.fut;
        // Parenthesized: `&mut sleep` must await the reference, not be a
        // reference to `sleep.await`.
        quote! { __xiio_arm(async { __XiioArm::#variant((#fut).await) }) }
    });
    let matches = arms.iter().zip(&variants).map(|(arm, variant)| {
        let (pat, body) = (&arm.pat, &arm.body);
        quote! { __XiioArm::#variant(#pat) => #body, }
    });
    quote! {
        {
            enum __XiioArm<#(#params,)*> { #(#variants(#params),)* }
            // Boxed by a function call, not an `as` cast: casts are checked
            // last, so with a cast the arms' bindings had no type yet when
            // the arms were checked (`x?`, `x.method()` failed to infer).
            fn __xiio_arm<'a, T>(
                fut: impl ::core::future::Future<Output = T> + 'a,
            ) -> ::core::pin::Pin<::std::boxed::Box<dyn ::core::future::Future<Output = T> + 'a>> {
                ::std::boxed::Box::pin(fut)
            }
            match ::xiio::task::race([#(#runners,)*]).await {
                #(#matches)*
            }
        }
    }
}
