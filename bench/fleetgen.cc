// bench/fleetgen: makes keys, CSRs and certificates for a benchmark fleet in
// one process, with ecertctl's own crypto library (keys and CSRs exactly as
// ecertctl writes them) and the in-memory test PKI's issue_from_csr.
//
//   fleetgen keys-csrs POOL CIPHER          stdin: key_path \t csr_path \t cn \t organization
//       POOL distinct RSA-2048 keys are generated (on every core) and written
//       round-robin to the key paths (mode 0600), each site's CSR made for
//       its key. Generating 10,000 RSA keys costs ~10 min of CPU; a pool keeps
//       fleet generation bounded while every site still has its own files.
//       CIPHER: none | aes-256-cbc (passphrase from $ECERT_KEY_PASSPHRASE).
//   fleetgen issue CA_DIR                    stdin: csr_path \t cert_path \t feature \t name,name,...
//       Issues each CSR with the harness TestPKI's sub CA of the feature
//       (CA_DIR/ca/*.crt, CA_DIR/private/*.key), SAN = CN + names.
//
// Not a test; built by bench/run against the libraries in the build tree.
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/test_pki.h"
#include "crypto/x509.h"

using namespace ecert;
using namespace ecert::crypto;

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::cerr << "fleetgen: " << msg << "\n";
  std::exit(1);
}

std::vector<std::vector<std::string>> read_rows(std::size_t fields) {
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::size_t start = 0;
    for (;;) {
      auto tab = line.find('\t', start);
      f.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    while (f.size() < fields) f.emplace_back();
    rows.push_back(std::move(f));
  }
  return rows;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, std::string_view data, mode_t mode) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) die("cannot write " + path + " (does its directory exist?)");
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
  chmod(path.c_str(), mode);
}

template <class F>
void parallel_for(std::size_t n, F f) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> pool;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (std::size_t i; (i = next.fetch_add(1)) < n;) f(i);
    });
  for (auto& t : pool) t.join();
}

int keys_csrs(int pool_size, const std::string& cipher_name) {
  Cipher cipher = Cipher::kNone;
  std::optional<SecretString> pass;
  if (cipher_name == "aes-256-cbc") {
    cipher = Cipher::kAes256Cbc;
    const char* p = std::getenv("ECERT_KEY_PASSPHRASE");
    if (!p) die("ECERT_KEY_PASSPHRASE is not set");
    pass.emplace(std::string(p));
  } else if (cipher_name != "none") {
    die("cipher must be none or aes-256-cbc");
  }
  auto rows = read_rows(4);
  const std::size_t n = std::min<std::size_t>(pool_size, rows.size());
  std::vector<std::optional<PrivateKey>> keys(n);
  std::vector<std::string> pems(n);
  parallel_for(n, [&](std::size_t i) {
    auto k = PrivateKey::generate_rsa(2048);
    if (!k) die("keygen: " + k.status().message());
    auto pem = k->to_pem(cipher, pass ? &*pass : nullptr);
    if (!pem) die("key pem: " + pem.status().message());
    pems[i] = std::string(pem->expose());
    keys[i].emplace(std::move(*k));
  });
  parallel_for(rows.size(), [&](std::size_t i) {
    const auto& r = rows[i];
    spit(r[0], pems[i % n], 0600);
    auto csr = make_csr_pem(*keys[i % n], ecert_subject(r[3], r[2]));
    if (!csr) die("csr " + r[2] + ": " + csr.status().message());
    spit(r[1], *csr, 0644);
  });
  return 0;
}

int issue(const std::string& ca_dir) {
  struct Ca {
    Certificate cert;
    PrivateKey key;
  };
  auto load = [&](const std::string& name) {
    auto cert = Certificate::parse(slurp(ca_dir + "/ca/" + name + "_pem.crt"));
    if (!cert) die("CA cert " + name + ": " + cert.status().message());
    auto key = PrivateKey::from_pem(slurp(ca_dir + "/private/" + name + ".key"), nullptr);
    if (!key) die("CA key " + name + ": " + key.status().message());
    return Ca{std::move(*cert), std::move(*key)};
  };
  const Ca ssl = load("ecert_ssl_ca_3-17");
  const Ca ev = load("ecert_ev_ssl_ca_3-17");
  auto rows = read_rows(4);
  const std::time_t now = std::time(nullptr);
  parallel_for(rows.size(), [&](std::size_t i) {
    const auto& r = rows[i];
    const bool is_ev = r[2] == "ev" || r[2] == "ev-multi-domain";
    const Ca& ca = is_ev ? ev : ssl;
    std::string csr = slurp(r[0]);
    auto info = parse_csr(csr);
    if (!info) die("csr " + r[0] + ": " + info.status().message());
    std::string cn;
    for (const auto& [k, v] : info->subject)
      if (k == "CN") cn = v;
    testpki::CertSpec spec;
    spec.dns_names.push_back(cn);
    std::stringstream names(r[3]);
    for (std::string name; std::getline(names, name, ',');)
      if (!name.empty() && name != cn) spec.dns_names.push_back(name);
    spec.not_before = now - 3600;
    spec.not_after = now + 365 * 86400;
    auto cert = testpki::issue_from_csr(ca.cert, ca.key, csr, spec);
    if (!cert) die("issue " + r[0] + ": " + cert.status().message());
    spit(r[1], cert->pem(), 0644);
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 3 && a[0] == "keys-csrs") return keys_csrs(std::stoi(a[1]), a[2]);
  if (a.size() == 2 && a[0] == "issue") return issue(a[1]);
  std::cerr << "usage: fleetgen keys-csrs POOL none|aes-256-cbc < rows | fleetgen issue CA_DIR < rows\n";
  return 2;
}
