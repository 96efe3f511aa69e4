#include "engine/status.h"

#include "crypto/tls.h"
#include "crypto/x509.h"
#include "engine/apply.h"
#include "engine/observe.h"

namespace ecert {
namespace {

ServedFacts probe(const Site& site, const FileSystem& fs) {
  ServedFacts out;
  out.address = *site.vhost.verify;
  auto colon = out.address.rfind(':');
  std::string host = out.address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = std::atoi(out.address.c_str() + colon + 1);
  const std::string sni = site.name.rfind("*.", 0) == 0 ? site.vhost.server_name : site.name;
  auto served = crypto::fetch_served_chain(host, port, sni, std::chrono::milliseconds(5000));
  if (!served) {
    out.detail = served.status().message();
    return out;
  }
  out.reachable = true;
  const auto& certs = served->certificates;
  if (certs.empty()) {
    out.detail = "the server sent no certificate";
    return out;
  }
  out.detail = "serves serial " + certs[0].serial_hex() + " (CN " + certs[0].common_name() + ") with " +
               std::to_string(certs.size() - 1) + " chain certificate(s), " + served->protocol;
  auto leaf = fs.read_file(site.certificate);
  auto chain = fs.read_file(site.chain);
  if (leaf && chain) {
    auto l = crypto::Certificate::parse(*leaf);
    auto c = crypto::Certificate::parse_bundle(*chain);
    if (l && c && certs.size() == c->size() + 1 && certs[0].der() == l->der()) {
      out.matches = true;
      for (std::size_t k = 0; k < c->size(); ++k) out.matches &= certs[k + 1].der() == (*c)[k].der();
    }
  }
  out.detail += out.matches ? "; matches the files on disk" : "; differs from the files on disk";
  return out;
}

}  // namespace

StatusReport collect_status(const Manifest& manifest, const FileSystem& fs, const std::string& manifest_arg,
                            const fs::path& state_dir) {
  StatusReport r;
  r.observed = observe(manifest, fs, ObserveOptions{});
  attach_installed(manifest, fs, state_dir, r.observed);
  r.plan = make_plan(manifest, r.observed, manifest_arg);
  for (std::size_t i = 0; i < manifest.sites.size(); ++i) {
    SiteStatus s{&manifest.sites[i], &r.observed.sites[i], &r.plan.sites[i], std::nullopt};
    if (manifest.sites[i].vhost.verify) s.served = probe(manifest.sites[i], fs);
    r.sites.push_back(s);
  }
  return r;
}

}  // namespace ecert
