//! Helpers for the unit tests of the expansions.

use proc_macro2::{TokenStream, TokenTree};

/// Asserts that two token streams are the same tokens, showing both on
/// failure. Whitespace is ignored: `>>` and `> >` print differently
/// depending on whether the tokens came from `quote!` or from syn.
pub(crate) fn assert_tokens_eq(actual: TokenStream, expected: TokenStream) {
    let squeeze = |tokens: TokenStream| tokens.to_string().replace(' ', "");
    assert_eq!(squeeze(actual), squeeze(expected));
}

/// The messages of the `compile_error! { "..." }` calls in `tokens`, in
/// order, as `syn::Error::into_compile_error` writes them.
pub(crate) fn compile_errors(tokens: TokenStream) -> Vec<String> {
    let mut messages = Vec::new();
    let mut after_compile_error = false;
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) if ident == "compile_error" => after_compile_error = true,
            TokenTree::Group(group) if after_compile_error => {
                let message: syn::LitStr =
                    syn::parse2(group.stream()).expect("compile_error! holds a string");
                messages.push(message.value());
                after_compile_error = false;
            }
            _ => {}
        }
    }
    messages
}
