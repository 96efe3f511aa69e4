// The vhost planner: are the three SSL directives of the site's
// <VirtualHost> as the manifest says, and if not, which lines change.
#include "engine/plan_site.h"
#include "util/strings.h"

namespace ecert::planning {
namespace {

const std::string& wanted_value(const apache::SslSettings& s, const std::string& directive) {
  if (directive == "SSLCertificateFile") return s.cert_file;
  if (directive == "SSLCertificateKeyFile") return s.key_file;
  return s.chain_file;
}

// How many times Apache reads `real_file`, and which vhosts other than
// `own` set certificate directives from it.
struct Sharing {
  std::size_t reads = 0;
  std::vector<std::string> vhosts;
};

Sharing sharing_of(const apache::Config& config, const std::string& real_file, const apache::VirtualHost& own) {
  Sharing s;
  for (const auto& f : config.files) s.reads += f.real_path == real_file;
  for (const auto& vh : config.vhosts) {
    if (&vh == &own) continue;
    for (const auto& d : vh.ssl)
      if (d.real_file == real_file) {
        s.vhosts.push_back(vh.describe());
        break;
      }
  }
  return s;
}

// The refusal to edit a file that other vhosts (or other sites) also read.
Status shared_file_error(const apache::SslDirective& d, const apache::VirtualHost& own, const Sharing& s) {
  std::string who = s.vhosts.empty() ? "it is Included " + std::to_string(s.reads) + " times"
                                     : "the other vhosts that read it: " + join(s.vhosts, "; ");
  return Status::conflict(d.file + ":" + std::to_string(d.line) + ": " + d.name + " for " + own.describe() +
                          " is set in a file that other vhosts also read (" + who +
                          "); ecertctl does not edit it, since that would change their certificates too. Move the "
                          "SSLCertificate* directives into each site's <VirtualHost> block");
}

// The edits that make `vh` say `settings`: its own block, plus directives
// set by files Included inside it, unless such a file is shared.
Result<VhostEdits> vhost_edits(const apache::Config& config, const apache::VirtualHost& vh,
                               const apache::SslSettings& settings) {
  VhostEdits out;
  out.block_file = vh.real_file;
  out.block.vhost_line = vh.line;
  out.block.settings = settings;
  out.block.unread = vh.unread;  // lines inside the block that Apache skips are never edited
  for (const auto& d : vh.ssl) {
    if (d.real_file == vh.real_file) continue;
    const std::string& value = wanted_value(settings, d.name);
    out.block.defined_in_includes.push_back(d.name);
    if (d.value == value) continue;
    Sharing s = sharing_of(config, d.real_file, vh);
    if (s.reads > 1 || !s.vhosts.empty()) return shared_file_error(d, vh, s);
    out.included.emplace_back(d.real_file, apache::DirectiveEdit{d.line, d.name, value});
  }
  return out;
}

}  // namespace

void plan_vhost(const SiteInput& in, SitePlan& sp, std::optional<VhostEdits>& edits) {
  const Site& site = in.site;
  const VhostFacts& f = in.facts.vhost;
  if (!f.error.is_ok() || !f.vhost) {
    sp.changes.push_back(make_change(ResourceKind::kVhost, Action::kError, site.vhost.file.value_or(fs::path()),
                                     f.error.is_ok() ? "no vhost" : f.error.message()));
    return;
  }
  const apache::VirtualHost& vh = *f.vhost;
  const std::string where = vh.file + ":" + std::to_string(vh.line);
  const apache::SslSettings settings{site.key.path.string(), site.certificate.string(), site.chain.string()};
  std::vector<std::string> diffs;
  for (const char* directive : {"SSLCertificateFile", "SSLCertificateKeyFile", "SSLCertificateChainFile"}) {
    const std::string& value = wanted_value(settings, directive);
    auto have = vh.ssl_value(directive);
    if (!have) diffs.push_back("add " + std::string(directive) + " " + value);
    else if (*have != value) diffs.push_back(std::string(directive) + " " + *have + " -> " + value);
  }
  if (diffs.empty()) {
    sp.changes.push_back(make_change(ResourceKind::kVhost, Action::kNoOp, where, "SSL directives in place"));
    return;
  }
  auto planned = in.observed.apache_config
                     ? vhost_edits(*in.observed.apache_config, vh, settings)
                     : Result<VhostEdits>(Status::invalid("the Apache configuration was not read"));
  if (!planned) {
    sp.changes.push_back(make_change(ResourceKind::kVhost, Action::kError, where, planned.status().message()));
    return;
  }
  edits = std::move(*planned);
  // EditConfig's writes are filled in by make_plan, once every site's edits are known.
  sp.changes.push_back(make_change(ResourceKind::kVhost, Action::kUpdate, where, join(diffs, "; "), EditConfig{}, true));
}

}  // namespace ecert::planning
