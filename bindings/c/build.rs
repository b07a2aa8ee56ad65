//! Gives the shared library a soname, so programs linked with `-lportcullis` record
//! `libportcullis.so` and find it through the usual loader paths.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libportcullis.so");
    println!("cargo:rerun-if-changed=build.rs");
}
