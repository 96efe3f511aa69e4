#include "engine/installed.h"

#include <nlohmann/json.hpp>

namespace ecert {

fs::path installed_state_path(const fs::path& state_dir) { return state_dir / "installed.json"; }

InstalledState read_installed(const FileSystem& fs, const fs::path& state_dir) {
  InstalledState out;
  auto text = fs.read_file(installed_state_path(state_dir));
  if (!text) return out;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("sites") || !j["sites"].is_object()) return out;
  for (const auto& [name, rec] : j["sites"].items()) {
    if (!rec.is_object()) continue;
    out[name] = InstalledRecord{rec.value("key", ""), rec.value("certificate", ""), rec.value("chain", "")};
  }
  return out;
}

std::string render_installed(const InstalledState& state) {
  nlohmann::json sites = nlohmann::json::object();
  for (const auto& [name, r] : state)
    sites[name] = {{"key", r.key}, {"certificate", r.certificate}, {"chain", r.chain}};
  return nlohmann::json({{"format_version", "1"}, {"sites", sites}}).dump(2) + "\n";
}

}  // namespace ecert
