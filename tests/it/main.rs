//! Integration tests: real sockets on 127.0.0.1, servers on port 0, and the counts of both sides
//! compared exactly. One test binary (modules below) so it links once.

mod binary;
mod faults;
mod fuzz_corpus;
mod h2;
mod h2serve;
mod http;
mod kv;
mod measure;
mod nginx;
mod page;
mod perf;
mod raw;
mod server_cpu;
mod support;
mod sweep;
mod targets;
mod tidy;
mod tls;
mod truth;
mod unix;
