//! `task_group!(|tg| body)`: a closure with one parameter becomes an async
//! closure run by `TaskGroup::scope`.
//!
//! ```text
//! task_group!(move |tg| body)   =>   ::xiio::__private::TaskGroup::scope(async move |tg| body).await
//! ```

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Pat, PatType, ReturnType, Token};

/// What to write when the closure does not have exactly one parameter.
const ONE_PARAMETER: &str =
    "the closure takes one parameter, the task group: write `task_group!(|tg| { ... })`";

/// The input of `task_group!`: a closure with one parameter, without `async`.
///
/// ```text
/// task_group!( [move] | PATTERN [: TYPE] | [-> TYPE] BODY [,] )
/// ```
///
/// `PATTERN` is usually `tg` or `_`; `TYPE` is `&xiio::TaskGroup<'_, '_, E>` and,
/// like the return type `Result<T, E>`, is only needed when nothing else
/// tells the compiler the error type `E`.
struct TaskGroupClosure {
    /// `move`, when the body takes ownership of the locals it uses instead of
    /// borrowing them.
    move_token: Option<Token![move]>,
    /// The parameter that receives `&TaskGroup`, with its type if given.
    param: Pat,
    /// The closure's return type, `-> Result<T, E>`, if given.
    output: ReturnType,
    /// The body: runs with the group, its `Result` is the group's result.
    body: Expr,
}

impl Parse for TaskGroupClosure {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Token![async]) {
            let async_token: Token![async] = input.parse()?;
            let message = "remove `async`: task_group! makes the closure async itself";
            return Err(syn::Error::new_spanned(async_token, message));
        }
        let move_token = input.parse()?;

        // `||` is one token, which would otherwise read as `|` below.
        if input.peek(Token![||]) {
            let no_params: Token![||] = input.parse()?;
            return Err(syn::Error::new_spanned(no_params, ONE_PARAMETER));
        }
        if !input.peek(Token![|]) {
            let message = "expected a closure: write `task_group!(|tg| { ... })`";
            if input.is_empty() {
                return Err(input.error(message));
            }
            // Point at the first token tree: `tg` in `tg => ...`, the whole
            // block in `{ ... }`.
            let first: TokenTree = input.parse()?;
            return Err(syn::Error::new_spanned(first, message));
        }
        let open: Token![|] = input.parse()?;
        let mut params = Punctuated::<Pat, Token![,]>::new();
        while !input.peek(Token![|]) {
            params.push_value(closure_param(input)?);
            if input.peek(Token![|]) {
                break;
            }
            params.push_punct(input.parse()?);
        }
        let close: Token![|] = input.parse()?;
        if params.len() != 1 {
            let params = quote! { #open #params #close };
            return Err(syn::Error::new_spanned(params, ONE_PARAMETER));
        }
        let param = params.into_iter().next().expect("one parameter");

        let output: ReturnType = input.parse()?;
        let body: Expr = input.parse()?;
        if matches!(output, ReturnType::Type(..)) && !matches!(body, Expr::Block(_)) {
            let message = "a closure with a return type needs a block: write `-> T { ... }`";
            return Err(syn::Error::new_spanned(body, message));
        }

        input.parse::<Option<Token![,]>>()?;
        if !input.is_empty() {
            let rest: TokenStream = input.parse()?;
            let message = "unexpected tokens after the closure: \
                           task_group! takes one closure, `task_group!(|tg| { ... })`";
            return Err(syn::Error::new_spanned(rest, message));
        }
        Ok(TaskGroupClosure {
            move_token,
            param,
            output,
            body,
        })
    }
}

/// Parses one closure parameter: a pattern, then `: TYPE` if present.
fn closure_param(input: ParseStream) -> syn::Result<Pat> {
    let pat = Pat::parse_single(input)?;
    if !input.peek(Token![:]) {
        return Ok(pat);
    }
    Ok(Pat::Type(PatType {
        attrs: Vec::new(),
        pat: Box::new(pat),
        colon_token: input.parse()?,
        ty: input.parse()?,
    }))
}

impl ToTokens for TaskGroupClosure {
    /// Writes `TaskGroup::scope(async [move] |param| [-> T] body).await`.
    /// The generated tokens carry the macro call's span, so using the macro
    /// outside async code is reported on the call.
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let TaskGroupClosure {
            move_token,
            param,
            output,
            body,
        } = self;
        tokens.extend(quote! {
            ::xiio::__private::TaskGroup::scope(async #move_token |#param| #output #body).await
        });
    }
}

/// Expands `task_group!(input)`, or a compile error on the wrong tokens.
pub(crate) fn task_group(input: TokenStream) -> TokenStream {
    match syn::parse2::<TaskGroupClosure>(input) {
        Ok(closure) => closure.into_token_stream(),
        Err(error) => error.into_compile_error(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_tokens_eq, compile_errors};

    #[test]
    fn closure_becomes_an_async_closure_run_by_scope() {
        let output = task_group(quote! {
            |tg| {
                tg.add_task(child());
                work().await?;
                Ok(1)
            }
        });
        let expected = quote! {
            ::xiio::__private::TaskGroup::scope(async |tg| {
                tg.add_task(child());
                work().await?;
                Ok(1)
            })
            .await
        };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn move_closure() {
        let output = task_group(quote! { move |tg| body(tg).await });
        let expected = quote! {
            ::xiio::__private::TaskGroup::scope(async move |tg| body(tg).await).await
        };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn underscore_pattern() {
        let output = task_group(quote! { |_| Ok(()) });
        let expected = quote! { ::xiio::__private::TaskGroup::scope(async |_| Ok(())).await };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn typed_parameter() {
        let output = task_group(quote! { |tg: &xiio::TaskGroup<'_, '_, io::Error>| Ok(()) });
        let expected = quote! {
            ::xiio::__private::TaskGroup::scope(
                async |tg: &xiio::TaskGroup<'_, '_, io::Error>| Ok(())
            )
            .await
        };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn return_type() {
        let output = task_group(quote! { |tg| -> io::Result<u32> { Ok(1) } });
        let expected = quote! {
            ::xiio::__private::TaskGroup::scope(async |tg| -> io::Result<u32> { Ok(1) }).await
        };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn trailing_comma_is_fine() {
        let output = task_group(quote! { |tg| Ok(()), });
        let expected = quote! { ::xiio::__private::TaskGroup::scope(async |tg| Ok(())).await };
        assert_tokens_eq(output, expected);
    }

    #[test]
    fn not_a_closure() {
        let expected = ["expected a closure: write `task_group!(|tg| { ... })`"];
        assert_eq!(
            compile_errors(task_group(quote! { tg => { Ok(()) } })),
            expected
        );
        assert_eq!(compile_errors(task_group(quote! { { Ok(()) } })), expected);
        assert_eq!(
            compile_errors(task_group(quote! {})),
            ["unexpected end of input, expected a closure: write `task_group!(|tg| { ... })`"]
        );
    }

    #[test]
    fn zero_or_two_parameters() {
        let expected = [ONE_PARAMETER];
        assert_eq!(compile_errors(task_group(quote! { || Ok(()) })), expected);
        assert_eq!(compile_errors(task_group(quote! { | | Ok(()) })), expected);
        assert_eq!(
            compile_errors(task_group(quote! { |a, b| Ok(()) })),
            expected
        );
        assert_eq!(
            compile_errors(task_group(quote! { move |a, b,| Ok(()) })),
            expected
        );
    }

    #[test]
    fn async_closure() {
        let expected = ["remove `async`: task_group! makes the closure async itself"];
        assert_eq!(
            compile_errors(task_group(quote! { async |tg| Ok(()) })),
            expected
        );
        assert_eq!(
            compile_errors(task_group(quote! { async move |tg| Ok(()) })),
            expected
        );
    }

    #[test]
    fn return_type_without_block() {
        assert_eq!(
            compile_errors(task_group(quote! { |tg| -> io::Result<()> Ok(()) })),
            ["a closure with a return type needs a block: write `-> T { ... }`"]
        );
    }

    #[test]
    fn trailing_tokens() {
        let expected = ["unexpected tokens after the closure: \
                         task_group! takes one closure, `task_group!(|tg| { ... })`"];
        assert_eq!(
            compile_errors(task_group(quote! { |tg| { Ok(()) } extra })),
            expected
        );
        assert_eq!(
            compile_errors(task_group(quote! { |tg| Ok(()), |tg| Ok(()) })),
            expected
        );
    }
}
