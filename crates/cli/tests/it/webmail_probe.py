"""Independent look at the private internet's web and mail hosts, for tests/it/webmail.rs.

Runs inside `uptake testbed run DIR -- python3 webmail_probe.py SAMPLE.csv OUT.json`: for each
domain of SAMPLE.csv (columns of truth.csv) asks dig (through the testbed resolver), openssl
s_client, curl and TCP connects what the servers do, and writes the statuses it derives, in
the words of CHECKS.md, as {domain: {check: status}}. It does not use uptake's code: the cipher
classes are written below from NCSC-NL 2025 appendix B as CHECKS.md states it.
"""

import csv
import datetime
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

RESOLVER = os.environ["UPTAKE_RESOLVER"].rsplit(":", 1)[0]
CA = os.environ["UPTAKE_TESTBED_CA"]

GOOD = re.compile(r"^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$")
SUFFICIENT = re.compile(
    r"^(ECDHE-(RSA|ECDSA)-AES(128|256)-SHA(256|384)?"
    r"|DHE-RSA-(AES(128|256)-(GCM-SHA(256|384)|SHA(256)?)|CHACHA20-POLY1305))$"
)
PHASE_OUT = re.compile(
    r"^(AES(128|256)-(GCM-SHA(256|384)|SHA(256)?)|((ECDHE-(RSA|ECDSA)|EDH-RSA|DHE-RSA)-)?DES-CBC3-SHA)$"
)


def run(args, stdin=b"", timeout=15):
    try:
        p = subprocess.run(args, input=stdin, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return 124, "timeout"


def cipher_lists():
    """TLS <= 1.2 suites OpenSSL knows, by class."""
    _, out = run(["openssl", "ciphers", "-v", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"])
    classes = {"good": [], "sufficient": [], "phase_out": [], "insufficient": []}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2 or f[1] == "TLSv1.3":
            continue
        name = f[0]
        if GOOD.match(name):
            classes["good"].append(name)
        elif SUFFICIENT.match(name):
            classes["sufficient"].append(name)
        elif PHASE_OUT.match(name):
            classes["phase_out"].append(name)
        else:
            classes["insufficient"].append(name)
    return classes


CLASSES = cipher_lists()


def dig(name, rtype, dnssec=False):
    """(answer lines' data, AD flag). Without `dnssec` the query has CD set, so the data of
    bogus zones is seen as well (the checks measure what a domain publishes)."""
    args = ["dig", "@" + RESOLVER, name, rtype, "+noall", "+answer", "+comments"]
    args.append("+dnssec" if dnssec else "+cd")
    _, out = run(args)
    ad = bool(re.search(r"flags:[^;]*\bad\b", out))
    data = []
    for line in out.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        f = line.split(None, 4)
        if len(f) == 5 and f[3] == rtype:
            data.append(f[4].strip())
    return data, ad


def s_client(addr, port, sni, extra, starttls=False):
    host = f"[{addr}]" if ":" in addr else addr
    args = ["openssl", "s_client", "-connect", f"{host}:{port}", "-servername", sni, "-CAfile", CA]
    if starttls:
        args += ["-starttls", "smtp"]
    code, out = run(args + extra, stdin=b"Q\n")
    m = re.search(r"Cipher is (\S+)", out)
    done = bool(m) and m.group(1) != "(NONE)"
    return done, out


def tcp_open(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((addr, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def curl(url, host, port, addr, extra=()):
    """(status, headers as list of (name, value), body) or None when no connection."""
    a = f"[{addr}]" if ":" in addr else addr
    args = ["curl", "-s", "-k", "--max-time", "10", "-D", "-", "--resolve", f"{host}:{port}:{a}",
            "--ciphers", "DEFAULT:@SECLEVEL=0", "--tlsv1.0", *extra, url]
    code, out = run(args)
    if code != 0:
        return None
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split()[1])
    headers = []
    for l in lines[1:]:
        if ":" in l:
            n, v = l.split(":", 1)
            headers.append((n.strip().lower(), v.strip()))
    return status, headers, body


def header(headers, name):
    for n, v in headers:
        if n == name:
            return v
    return None


def web(d, addr):
    r = {}
    https, _ = s_client(addr, 443, d, ["-cipher", "ALL:@SECLEVEL=0"])
    r["https"] = "available" if https else "unavailable"
    # Redirect: first response of http://d/.
    a = f"[{addr}]" if ":" in addr else addr
    code, out = run(["curl", "-s", "-o", "/dev/null", "--max-time", "10", "-w", "%{http_code} %{redirect_url}",
                     "--resolve", f"{d}:80:{a}", f"http://{d}/"])
    if code == 7:
        r["https_redirect"] = "no_http"
    else:
        status, _, loc = out.partition(" ")
        ok = status in ("301", "302", "303", "307", "308") and re.match(
            r"^https://" + re.escape(d) + r"(:443)?(/|$)", loc, re.I)
        r["https_redirect"] = "enforced" if ok else "not_enforced"
    # IPv6 of the apex.
    aaaa, _ = dig(d, "AAAA")
    if not aaaa:
        r["web_ipv6"] = "none"
    else:
        r["web_ipv6"] = "reachable" if any(tcp_open(v6, 443) or tcp_open(v6, 80) for v6 in aaaa) else "unreachable"
    if not https:
        for c in ("tls_version", "tls_cipher", "certificate", "hsts", "security_txt", "security_headers"):
            r[c] = "not_applicable"
        return r
    versions = {v for v, flag in (("1.0", "-tls1"), ("1.1", "-tls1_1"), ("1.2", "-tls1_2"), ("1.3", "-tls1_3"))
                if s_client(addr, 443, d, [flag, "-cipher", "ALL:@SECLEVEL=0"])[0]}
    if versions & {"1.0", "1.1"}:
        r["tls_version"] = "insufficient"
    elif "1.3" in versions:
        r["tls_version"] = "good"
    else:
        r["tls_version"] = "sufficient"
    worst = "good"
    for cls in ("sufficient", "phase_out", "insufficient"):
        names = ":".join(CLASSES[cls])
        if s_client(addr, 443, d, ["-no_tls1_3", "-cipher", names + ":@SECLEVEL=0"])[0]:
            worst = cls
    r["tls_cipher"] = worst
    _, out = s_client(addr, 443, d, ["-cipher", "ALL:@SECLEVEL=0", "-verify_hostname", d])
    m = re.search(r"Verify return code: (\d+)", out)
    r["certificate"] = {"0": "valid", "10": "expired", "62": "name_mismatch", "18": "self_signed",
                        "20": "untrusted", "21": "untrusted"}.get(m.group(1) if m else "", "?" + (m.group(1) if m else ""))
    got = curl(f"https://{d}/", d, 443, addr)
    if got is None:
        r["hsts"] = r["security_headers"] = r["security_txt"] = "error"
        return r
    _, headers, _ = got
    hsts = header(headers, "strict-transport-security")
    m = re.match(r"^\s*max-age=(\d+)\s*(;|$)", hsts or "", re.I)
    r["hsts"] = "absent" if not m else ("strong" if int(m.group(1)) >= 31536000 else "weak")
    present = sum(1 for n in ("content-security-policy", "x-frame-options", "referrer-policy")
                  if header(headers, n)) + (1 if (header(headers, "x-content-type-options") or "").lower() == "nosniff" else 0)
    r["security_headers"] = {4: "all", 0: "none"}.get(present, "some")
    got = curl(f"https://{d}/.well-known/security.txt", d, 443, addr)
    status, headers, body = got
    if status == 404:
        r["security_txt"] = "absent"
    else:
        ctype = (header(headers, "content-type") or "").split(";")[0].strip().lower()
        exp = re.search(r"^Expires:\s*(\S+)", body, re.M | re.I)
        future = exp and datetime.datetime.fromisoformat(exp.group(1).replace("Z", "+00:00")) > datetime.datetime.now(datetime.timezone.utc)
        ok = status == 200 and ctype == "text/plain" and re.search(r"^Contact:\s*\S", body, re.M | re.I) and future
        r["security_txt"] = "valid" if ok else "invalid"
    return r


def count(n, of):
    return "none" if n == 0 else ("all" if n == of else "some")


def mail(d):
    r = {}
    mx, _ = dig(d, "MX")
    hosts = [m.split()[1].rstrip(".") for m in mx if m.split()[1] != "."]
    if not hosts:
        r["starttls"] = r["dane"] = r["mx_ipv6"] = "not_applicable"
        return r, hosts
    tls, v6ok, tlsa_any, insecure, dane_ok = 0, 0, False, False, True
    for h in hosts:
        a, _ = dig(h, "A")
        addr = a[0]
        done, out = s_client(addr, 25, h, ["-showcerts"], starttls=True)
        tls += done
        aaaa, _ = dig(h, "AAAA")
        v6ok += any(tcp_open(v6, 25) for v6 in aaaa)
        tlsa, ad = dig(f"_25._tcp.{h}", "TLSA", dnssec=True)
        if tlsa:
            tlsa_any = True
            insecure |= not ad
        spki = None
        if done:
            pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S).group(0)
            _, pub = run(["openssl", "x509", "-pubkey", "-noout"], stdin=pem.encode())
            der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub.encode(),
                                 capture_output=True).stdout
            spki = hashlib.sha256(der).hexdigest()
        matched = any(t.split()[:3] == ["3", "1", "1"] and "".join(t.split()[3:]).lower() == spki for t in tlsa)
        dane_ok &= bool(matched)
    r["starttls"] = count(tls, len(hosts))
    r["mx_ipv6"] = count(v6ok, len(hosts))
    r["dane"] = "absent" if not tlsa_any else ("insecure" if insecure else ("valid" if dane_ok else "invalid"))
    return r, hosts


def mta_sts(d, hosts):
    txt, _ = dig(f"_mta-sts.{d}", "TXT")
    recs = [t.replace('" "', "").strip('"') for t in txt if t.strip('"').startswith("v=STSv1")]
    if not recs:
        return "absent"
    if len(recs) != 1 or not re.match(r"^v=STSv1;\s*id=[A-Za-z0-9]{1,32}\s*;?\s*$", recs[0]):
        return "invalid"
    a, _ = dig(f"mta-sts.{d}", "A")
    if not a:
        return "invalid"
    a0 = a[0]
    code, out = run(["curl", "-s", "--max-time", "10", "--cacert", CA, "-D", "-", "--resolve",
                     f"mta-sts.{d}:443:{a0}", f"https://mta-sts.{d}/.well-known/mta-sts.txt"])
    if code != 0:
        return "invalid"
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    if not head.split()[1] == "200" or "content-type: text/plain" not in head.lower():
        return "invalid"
    fields = [l.split(":", 1) for l in body.split("\n") if l.strip()]
    if not fields or [f.strip() for f in fields[0]] != ["version", "STSv1"]:
        return "invalid"
    kv = {}
    mx = []
    for k, v in fields[1:]:
        if k == "mx":
            mx.append(v.strip().lower())
        else:
            kv[k] = v.strip()
    mode = kv.get("mode")
    if mode not in ("enforce", "testing", "none") or not kv.get("max_age", "").isdigit():
        return "invalid"
    def match(p, h):
        return p == h or (p.startswith("*.") and h.split(".", 1)[1] == p[2:])
    if mode != "none" and not all(any(match(p, h) for p in mx) for h in hosts):
        return "invalid"
    return mode


def probe(row):
    d = row["domain"]
    a, _ = dig(d, "A")
    r = web(d, a[0])
    m, hosts = mail(d)
    r.update(m)
    r["mta_sts"] = mta_sts(d, hosts)
    return d, r


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    with ThreadPoolExecutor(max_workers=8) as ex:
        out = dict(ex.map(probe, rows))
    json.dump(out, open(sys.argv[2], "w"), indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
