//! What the benchmark sends: the registered clients, the wrk scripts, and the pgbench scripts of
//! the statements the server runs.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context};

use super::tools::psql;

/// One HTTP/1.1 exchange on a kept-alive connection; returns the body of a 2xx answer.
pub fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8]) -> anyhow::Result<String> {
    stream.get_mut().write_all(request)?;
    let mut status_line = String::new();
    stream.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .context("no status line")?
        .parse()?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse()?;
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    ensure!(status < 300, "HTTP {status}: {body}");
    Ok(body)
}

/// The registration body of client `n`: the same for every server measured.
fn person(n: usize) -> String {
    format!(
        r#"{{"first_name":"Bench","last_name":"Client {n}","date_of_birth":"1980-01-{day:02}","gender":"{gender}","nationality":"FRA","birth_country":"FRA","country_of_tax_residence":"FRA","email":"client{n}@bench.example.com","mobile_phone_number":"+336{n:08}","address":"{n} Rue de Rivoli","city":"Paris","postcode":"75001","country_code":"FRA","kyc_level":"FULL_KYC"}}"#,
        day = n % 28 + 1,
        gender = if n.is_multiple_of(2) {
            "female"
        } else {
            "male"
        },
    )
}

/// Registers `count` clients over HTTP on the server at `port`, several connections at once;
/// returns their ids.
pub fn register(port: u16, key: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let threads = 8.min(count);
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let key = key.to_owned();
            std::thread::spawn(move || -> anyhow::Result<Vec<String>> {
                let mut stream = BufReader::new(TcpStream::connect(("127.0.0.1", port))?);
                let mut ids = Vec::new();
                for n in (thread..count).step_by(threads) {
                    let body = person(n);
                    let request = format!(
                        "POST /api/v1/clients/person HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\
                         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let answer = exchange(&mut stream, request.as_bytes())?;
                    let id = answer
                        .split("\"id\":\"")
                        .nth(1)
                        .and_then(|rest| rest.split('"').next())
                        .with_context(|| format!("no id in {answer}"))?;
                    ids.push(id.to_owned());
                }
                Ok(ids)
            })
        })
        .collect();
    let mut ids = Vec::with_capacity(count);
    for handle in handles {
        ids.extend(handle.join().expect("registration thread")?);
    }
    Ok(ids)
}

/// A Lua array of the ids, for the wrk scripts.
fn lua_ids(ids: &[String]) -> String {
    let mut lua = String::from("ids = {");
    for id in ids {
        let _ = write!(lua, "\"{id}\",");
    }
    lua.push_str("}\n");
    lua
}

/// The wrk scripts for one server, in `dir`: random existing ids; the PUT changes city,
/// postcode and the KYC note to values drawn at random, so that nearly every request is a real
/// change. Both servers get the same requests, key included (the peer ignores it).
pub struct Scripts {
    pub ids: PathBuf,
    pub put: PathBuf,
    pub get: PathBuf,
}

impl Scripts {
    pub fn write(dir: &Path, key: &str, ids: &[String]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let ids_lua = dir.join("ids.lua");
        std::fs::write(&ids_lua, lua_ids(ids))?;
        let common = format!(
            r#"dofile("{ids}")
local headers = {{ ["Authorization"] = "Bearer {key}", ["Content-Type"] = "application/json" }}
local cities = {{ "Lyon", "Nice", "Paris", "Lille", "Nantes", "Rennes", "Bordeaux", "Toulouse" }}
function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init(args) math.randomseed(seed) end
"#,
            ids = ids_lua.display()
        );
        let put = dir.join("put.lua");
        std::fs::write(
            &put,
            format!(
                r#"{common}
function request()
  local id = ids[math.random(#ids)]
  local body = string.format('{{"city":"%s","postcode":"%05d","kyc_note":"reviewed %d"}}',
    cities[math.random(#cities)], math.random(1000, 99999), math.random(1, 1000000000))
  return wrk.format("PUT", "/api/v1/clients/person/" .. id, headers, body)
end
"#
            ),
        )?;
        let get = dir.join("get.lua");
        std::fs::write(
            &get,
            format!(
                r#"{common}
function request()
  return wrk.format("GET", "/api/v1/clients/" .. ids[math.random(#ids)], headers)
end
"#
            ),
        )?;
        Ok(Scripts {
            ids: ids_lua,
            put,
            get,
        })
    }

    /// Points the scripts at other ids.
    pub fn use_ids(&self, ids: &[String]) -> anyhow::Result<()> {
        Ok(std::fs::write(&self.ids, lua_ids(ids))?)
    }
}

/// Every column of `clients`, in table order.
const COLUMNS: &str = "id, organization_id, version, created_at, updated_at, kyc_level, \
    kyc_status, risk_level, is_blacklisted, blacklisted_comment, blocked, kyc_note, \
    external_client_code, first_name, middle_name, last_name, date_of_birth, gender, \
    nationality, birth_country, country_of_tax_residence, email, second_email, \
    mobile_phone_number, second_mobile_phone_number, address, city, postcode, state_province, \
    country_code, planned_income, planned_expenditure";

/// The pgbench scripts: the statements the server sends for one PUT and one GET, with the same
/// parameters (see BENCHMARKS.md for how they were read off the server). A PUT is the client's
/// read, then ONE statement that writes every updatable column (the changed ones with new
/// values, the others as read; nullable ones as themselves, the same work for PostgreSQL) if
/// the version is still the one read, and inserts the event (a body of the size the server
/// renders, about 1.6 kB) and the history entry from its `RETURNING`. The
/// random client comes from `bench_ids` inside the read, so the pick costs no round trip.
/// The read also takes the history's head hash and the relationship, as the server's does; the
/// entry's hash is a SHA-256 computed by PostgreSQL (the server computes the real one, over
/// the canonical encoding, in Rust). It chains to the head, so the server's next write finds
/// one. (pgbench takes `:name` for a variable even inside a string: the JSON's `"old": null`
/// keeps its space.)
pub fn pgbench_scripts(work: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let client = "(SELECT id FROM bench_ids WHERE n = :n)";
    let put = work.join("put.sql");
    std::fs::write(
        &put,
        format!(
            r#"\set n random(1, :clients)
\set r random(1, 1000000000)
\set postcode random(1000, 99999)
SELECT {COLUMNS}, coalesce((SELECT hash FROM client_history h WHERE h.client_id = clients.id AND h.version = clients.version), '') AS head, coalesce((SELECT ended_at::text FROM client_relationships r WHERE r.client_id = clients.id), '') AS ended_at, coalesce((SELECT retain_until::text FROM client_relationships r WHERE r.client_id = clients.id), '') AS retain_until FROM clients WHERE id = {client} \gset c_
WITH updated AS (UPDATE clients SET address = :c_address, blacklisted_comment = blacklisted_comment, blocked = :c_blocked, city = 'Lyon', country_code = :c_country_code, email = :c_email, kyc_status = :c_kyc_status, is_blacklisted = :c_is_blacklisted, kyc_note = 'reviewed ' || :r::text, mobile_phone_number = mobile_phone_number, planned_expenditure = planned_expenditure, planned_income = planned_income, postcode = :postcode, risk_level = :c_risk_level, second_email = second_email, second_mobile_phone_number = second_mobile_phone_number, state_province = state_province, version = :c_version + 1, updated_at = now() WHERE id = :c_id AND version = :c_version RETURNING id, version, organization_id, updated_at), event AS (INSERT INTO events (id, organization_id, client_id, version, type, created_at, body) SELECT gen_random_uuid(), organization_id, id, version, 'client.updated', updated_at, repeat('e', 1600) FROM updated RETURNING id), deliveries AS (INSERT INTO webhook_deliveries (endpoint_id, organization_id, event_id, client_id, version, event_created_at, next_attempt_at) SELECT w.id, w.organization_id, event.id, s.id, s.version, s.updated_at, s.updated_at FROM updated s CROSS JOIN event JOIN webhook_endpoints w ON w.organization_id = s.organization_id AND w.deleted_at IS NULL AND (w.event_mask IS NULL OR w.event_mask & 2 <> 0)) INSERT INTO client_history (client_id, version, organization_id, recorded_at, actor_key_id, actor_name, request_id, changes, reason, hash) SELECT id, version, organization_id, updated_at, :key_id::text, 'bench', 'bench-' || :r::text, '[{{"field":"city","old":"Paris","new":"Lyon"}},{{"field":"postcode","old":"75001","new":"' || :postcode::text || '"}},{{"field":"kyc_note","old": null,"new":"reviewed ' || :r::text || '"}}]', NULL, encode(sha256(convert_to(:c_head || :r::text, 'UTF8')), 'hex') FROM updated;
"#
        ),
    )?;
    let get = work.join("get.sql");
    std::fs::write(
        &get,
        format!(
            r#"\set n random(1, :clients)
SELECT {COLUMNS} FROM clients WHERE id = {client};
"#
        ),
    )?;
    Ok((put, get))
}

/// `bench_ids(n, id)`: the registered clients numbered from 1, for pgbench to pick from.
pub fn load_ids(url: &str, ids: &[String], work: &Path) -> anyhow::Result<()> {
    let csv = work.join("ids.csv");
    let mut text = String::new();
    for (n, id) in ids.iter().enumerate() {
        let _ = writeln!(text, "{},{id}", n + 1);
    }
    std::fs::write(&csv, text)?;
    psql(
        url,
        "DROP TABLE IF EXISTS bench_ids; CREATE TABLE bench_ids (n int PRIMARY KEY, id uuid NOT NULL)",
    )?;
    psql(
        url,
        &format!(
            "\\copy bench_ids FROM '{}' WITH (FORMAT csv)",
            csv.display()
        ),
    )?;
    psql(url, "VACUUM ANALYZE")?;
    Ok(())
}
