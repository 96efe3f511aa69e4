#include "engine/vhost_edits.h"

namespace ecert {

std::map<std::string, FileEdits> group_vhost_edits(const Manifest& manifest, const Plan& plan,
                                                   const std::map<std::size_t, const apache::VirtualHost*>& vhosts) {
  std::map<std::string, FileEdits> by_file;
  for (std::size_t i = 0; i < manifest.sites.size(); ++i) {
    bool wanted = false;
    for (const auto& c : plan.sites[i].changes)
      wanted |= c.op == Operation::kPatchVhost && (c.action == Action::kCreate || c.action == Action::kUpdate);
    auto vh_it = vhosts.find(i);
    if (!wanted || vh_it == vhosts.end()) continue;
    const auto& vh = *vh_it->second;
    const Site& site = manifest.sites[i];
    apache::VhostEdit edit;
    edit.vhost_line = vh.line;
    edit.settings = {site.key.path.string(), site.certificate.string(), site.chain.string()};
    for (const auto& d : vh.ssl) {
      if (d.real_file == vh.real_file) continue;
      auto& fe = by_file[d.real_file];
      fe.path = d.real_file;
      const std::string& value = d.name == "SSLCertificateFile"      ? edit.settings.cert_file
                                 : d.name == "SSLCertificateKeyFile" ? edit.settings.key_file
                                                                     : edit.settings.chain_file;
      fe.directives.push_back({d.line, d.name, value});
      fe.sites.insert(i);
      edit.defined_in_includes.push_back(d.name);
    }
    auto& fe = by_file[vh.real_file];
    fe.path = vh.real_file;
    fe.blocks.push_back(std::move(edit));
    fe.sites.insert(i);
  }
  return by_file;
}

Result<std::string> apply_file_edits(std::string_view content, const FileEdits& fe) {
  if (!fe.blocks.empty() && !fe.directives.empty())
    return Status::invalid(fe.path.string() +
                           " holds a vhost and SSL directives Included into another vhost; edit it by hand or "
                           "move the directives into the vhost");
  auto patched = fe.blocks.empty() ? apache::patch_directive_lines(content, fe.directives)
                                   : apache::patch_config_text(content, fe.blocks);
  if (!patched) return Status::invalid(fe.path.string() + ": " + patched.status().message());
  return patched;
}

}  // namespace ecert
