//! The soak's load generator (benches/serve/run.sh): HTTP/1.1 keep-alive GETs at a fixed
//! total rate over N connections for a number of seconds, counting the statuses. hey and
//! wrk cannot hold a set rate of tens of thousands a second from one core; this can.
//!
//! Usage: `load ADDR PATH RATE SECONDS CONNECTIONS [HEADER]...`; prints one JSON object
//! (`sent`, `seconds`, `rps`, `statuses`). Responses must carry `Content-Length`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest response head read.
const MAX_HEAD: usize = 64 * 1024;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, path, rate, seconds, connections, headers @ ..] = args.as_slice() else {
        eprintln!("usage: load ADDR PATH RATE SECONDS CONNECTIONS [HEADER]...");
        std::process::exit(2);
    };
    let number = |s: &str| s.parse::<f64>().ok().filter(|n| *n > 0.0);
    let (Some(rate), Some(seconds), Some(connections)) =
        (number(rate), number(seconds), number(connections))
    else {
        eprintln!("RATE, SECONDS and CONNECTIONS must be positive numbers");
        std::process::exit(2);
    };
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let results = runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(seconds);
        let every = Duration::from_secs_f64(connections / rate);
        let mut tasks = Vec::new();
        for _ in 0..connections as usize {
            let stream = TcpStream::connect(addr.as_str()).await?;
            stream.set_nodelay(true)?;
            tasks.push(tokio::spawn(connection(
                stream,
                request.clone().into_bytes(),
                every,
                deadline,
            )));
        }
        let mut statuses = BTreeMap::new();
        for task in tasks {
            let counted = task.await.map_err(std::io::Error::other)??;
            for (status, n) in counted {
                *statuses.entry(status).or_insert(0u64) += n;
            }
        }
        Ok::<_, std::io::Error>(statuses)
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let sent: u64 = results.values().sum();
    println!(
        "{}",
        serde_json::json!({
            "sent": sent,
            "seconds": elapsed,
            "rps": sent as f64 / elapsed,
            "asked_rps": rate,
            "statuses": results,
        })
    );
    Ok(())
}

/// One connection: a request every `every` until `deadline` (a late tick is sent at once,
/// so the rate holds while the server keeps up); returns the statuses seen.
async fn connection(
    mut stream: TcpStream,
    request: Vec<u8>,
    every: Duration,
    deadline: tokio::time::Instant,
) -> std::io::Result<BTreeMap<u16, u64>> {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut statuses = BTreeMap::new();
    let mut buffer = Vec::with_capacity(4096);
    while tokio::time::Instant::now() < deadline {
        ticks.tick().await;
        stream.write_all(&request).await?;
        let status = read_response(&mut stream, &mut buffer).await?;
        *statuses.entry(status).or_insert(0) += 1;
    }
    Ok(statuses)
}

/// Reads one response (head, then `Content-Length` bytes); returns its status.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<u16> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).map_err(|_| bad("head not UTF-8"))?;
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("no status"))?;
            let length: usize = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .ok_or_else(|| bad("no content-length"))?;
            let total = end + 4 + length;
            while buffer.len() < total {
                read_more(stream, buffer).await?;
            }
            buffer.drain(..total);
            return Ok(status);
        }
        if buffer.len() > MAX_HEAD {
            return Err(bad("head too long"));
        }
        read_more(stream, buffer).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    buffer.extend_from_slice(&chunk[..n]);
    Ok(())
}
