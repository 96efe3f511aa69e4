#include "engine/served.h"

#include "crypto/tls.h"
#include "crypto/x509.h"
#include "util/host_port.h"

namespace ecert {

ServedFacts probe_served(const Site& site, const FileSystem& fs, std::chrono::milliseconds timeout) {
  ServedFacts out;
  out.address = *site.vhost.verify;
  const auto address = parse_host_port(out.address);  // the manifest loader accepted it
  if (!address) {
    out.detail = "vhost.verify " + out.address + " is not HOST:PORT";
    return out;
  }
  // A wildcard name is no host name: ask for the vhost's own name instead.
  const std::string sni = site.name.rfind("*.", 0) == 0 ? site.vhost.server_name : site.name;
  auto served = crypto::fetch_served_chain(address->host, address->port, sni, timeout);
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
    if (l && !out.matches)
      out.detail += "; expected serial " + l->serial_hex() + (c ? " with " + std::to_string(c->size()) + " chain certificate(s)" : "");
  }
  out.detail += out.matches ? "; matches the files on disk" : "; differs from the files on disk";
  return out;
}

}  // namespace ecert
