// The vhost planner: are the three SSL directives of the site's
// <VirtualHost> as the manifest says, and if not, which lines change.
#include <algorithm>

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
                               const apache::SslSettings& settings, bool fullchain) {
  VhostEdits out;
  out.block_file = vh.real_file;
  out.block.vhost_line = vh.line;
  out.block.settings = settings;
  out.block.unread = vh.unread;  // lines inside the block that Apache skips are never edited
  out.block.remove_chain = fullchain;
  for (const auto& d : vh.ssl) {
    if (d.real_file == vh.real_file) continue;
    if (fullchain && d.name == "SSLCertificateChainFile")
      return Status::invalid(d.file + ":" + std::to_string(d.line) +
                             ": SSLCertificateChainFile is set in a file Included into " + vh.describe() +
                             "; with a fullchain the chain is in SSLCertificateFile: remove that line by hand");
    const std::string& value = wanted_value(settings, d.name);
    out.block.defined_in_includes.push_back(d.name);
    if (d.value == value) continue;
    Sharing s = sharing_of(config, d.real_file, vh);
    if (s.reads > 1 || !s.vhosts.empty()) return shared_file_error(d, vh, s);
    out.included.emplace_back(d.real_file, apache::DirectiveEdit{d.line, d.name, value});
  }
  return out;
}

// Whether the SSLUseStapling line `d` is the one ecertctl added (the marker
// comment is on the line before it).
bool added_by_ecertctl(const apache::Config& config, const apache::SslDirective& d) {
  for (const auto& f : config.files) {
    if (f.real_path != d.real_file) continue;
    std::size_t start = 0;
    for (int line = 1; line < d.line - 1 && start != std::string::npos; ++line) start = f.content.find('\n', start) + 1;
    const std::size_t end = f.content.find('\n', start);
    return start != std::string::npos && f.content.substr(start, end - start).find(apache::kStaplingMarker) != std::string::npos;
  }
  return false;
}

// What stapling asks of the vhost and of the server: the edits, and what
// they change, for the reason.
void plan_stapling(const SiteInput& in, const apache::VirtualHost& vh, VhostEdits& edits,
                   std::vector<std::string>& diffs) {
  const apache::Config& config = *in.observed.apache_config;
  edits.root_file = config.files.empty() ? config.root.string() : config.files.front().real_path.string();
  if (in.site.vhost.stapling) {
    edits.block.stapling = true;
    const bool on = std::any_of(vh.stapling.begin(), vh.stapling.end(),
                                [](const apache::SslDirective& d) { return iequals(d.value, "on"); });
    if (!on) diffs.push_back("set SSLUseStapling on");
    if (config.stapling_caches.empty() && !config.stapling_cache_added) {
      edits.stapling_cache = true;
      diffs.push_back("add an SSLStaplingCache at server level (end of " + edits.root_file + ")");
    }
    return;
  }
  // Off: the vhost's line goes. The server's cache stays: mod_ssl keeps it
  // across a graceful restart and Apache exits on one without it (AH01872),
  // and another vhost may staple with it.
  for (const auto& d : vh.stapling)
    if (added_by_ecertctl(config, d)) {
      edits.block.stapling = false;
      diffs.push_back("remove the SSLUseStapling ecertctl added");
    }
}

// The SSL directives as the manifest wants them, and how they differ.
apache::SslSettings wanted_settings(const Site& site, const apache::VirtualHost& vh, std::vector<std::string>& diffs) {
  const bool full = site.fullchain.has_value();
  const apache::SslSettings settings{site.key.path.string(), full ? site.fullchain->string() : site.certificate.string(),
                                     full ? std::string() : site.chain.string()};
  for (const char* directive : {"SSLCertificateFile", "SSLCertificateKeyFile", "SSLCertificateChainFile"}) {
    const std::string& value = wanted_value(settings, directive);
    auto have = vh.ssl_value(directive);
    if (value.empty()) {
      if (have) diffs.push_back("remove " + std::string(directive) + " " + *have + " (the fullchain file holds the chain)");
    } else if (!have) {
      diffs.push_back("add " + std::string(directive) + " " + value);
    } else if (*have != value) {
      diffs.push_back(std::string(directive) + " " + *have + " -> " + value);
    }
  }
  return settings;
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
  if (!in.observed.apache_config) return;  // a vhost always comes from a parsed configuration
  const apache::VirtualHost& vh = *f.vhost;
  const std::string where = vh.file + ":" + std::to_string(vh.line);
  std::vector<std::string> diffs;
  const apache::SslSettings settings = wanted_settings(site, vh, diffs);
  auto planned = vhost_edits(*in.observed.apache_config, vh, settings, site.fullchain.has_value());
  if (planned) plan_stapling(in, vh, *planned, diffs);
  if (diffs.empty()) {
    sp.changes.push_back(make_change(ResourceKind::kVhost, Action::kNoOp, where, "SSL directives in place"));
    return;
  }
  if (!planned) {
    sp.changes.push_back(make_change(ResourceKind::kVhost, Action::kError, where, planned.status().message()));
    return;
  }
  edits = std::move(*planned);
  // EditConfig's writes are filled in by make_plan, once every site's edits are known.
  sp.changes.push_back(make_change(ResourceKind::kVhost, Action::kUpdate, where, join(diffs, "; "), EditConfig{}, true));
}

}  // namespace ecert::planning
