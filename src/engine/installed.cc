#include "engine/installed.h"

#include "util/json_text.h"
#include <nlohmann/json.hpp>

#include "engine/state_dir.h"

namespace ecert {
namespace {

using nlohmann::json;

// Reads {"format_version": "1", "sites": {NAME: {"key": D, "certificate": D,
// "chain": D}}} event by event: a fleet's record is a few megabytes of JSON,
// which as a document would cost ten times that in memory. It reads what the
// document says (as json::parse would): a member given twice counts as the
// later one, "sites" counts only as an object, and anything else in the file
// is skipped.
class Reader : public nlohmann::json_sax<json> {
 public:
  explicit Reader(InstalledState& out) : out_(out) {}

  bool start_object(std::size_t) override {
    ++depth_;
    if (depth_ == 2) in_sites_ = sites_next_;
    if (depth_ == 3 && in_sites_) {
      site_ = key_;
      record_ = InstalledRecord{};
    }
    return true;
  }
  bool end_object() override {
    if (depth_ == 3 && in_sites_) out_[site_] = record_;
    if (depth_ == 2) in_sites_ = false;
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    key_ = k;
    if (depth_ == 1) {
      sites_next_ = k == "sites";
      if (sites_next_) out_.clear();  // a later "sites" replaces an earlier one
    }
    if (depth_ == 2 && in_sites_) out_.erase(k);  // so does a later site, whatever its value
    return true;
  }
  bool string(string_t& v) override {
    if (depth_ == 3 && in_sites_) {
      if (key_ == "key") record_.key = v;
      else if (key_ == "certificate") record_.certificate = v;
      else if (key_ == "chain") record_.chain = v;
    }
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  InstalledState& out_;
  int depth_ = 0;
  bool sites_next_ = false;  // the value being read is the top-level "sites"
  bool in_sites_ = false;    // inside the top-level "sites" object
  std::string key_, site_;
  InstalledRecord record_;
};

}  // namespace

fs::path installed_state_path(const fs::path& state_dir) { return state_dir / "installed.json"; }

fs::path installed_certificate_copy(const fs::path& state_dir, const std::string& site) {
  return state_dir / "installed" / (site + ".crt");
}

fs::path installed_chain_copy(const fs::path& state_dir, const std::string& digest) {
  return state_dir / "installed" / ("chain-" + digest + ".crt");
}

InstalledState parse_installed(std::string_view text) {
  InstalledState out;
  Reader reader(out);
  if (!json::sax_parse(text, &reader)) return {};  // a file cut short: the next run rewrites it
  return out;
}

InstalledState read_installed(const FileSystem& fs, const fs::path& state_dir) {
  auto text = read_state_file(fs, installed_state_path(state_dir));
  return text ? parse_installed(*text) : InstalledState{};
}

std::string render_installed(const InstalledState& state) {
  // What json{...}.dump(2) prints (keys sorted), written entry by entry into
  // one buffer of about the final size: at 10,000 sites the record is ~5 MiB,
  // written at the end of apply, when its peak memory is reached.
  std::string out = "{\n  \"format_version\": \"1\",\n  \"sites\": {";
  if (state.empty()) return out + "}\n}\n";
  std::size_t size = out.size() + 16;
  for (const auto& [name, r] : state) size += name.size() + r.certificate.size() + r.chain.size() + r.key.size() + 96;
  out.reserve(size);
  bool first = true;
  for (const auto& [name, r] : state) {
    out += first ? "\n    " : ",\n    ";
    first = false;
    out += json_text(json(name));
    out += ": {\n      \"certificate\": ";
    out += json_text(json(r.certificate));
    out += ",\n      \"chain\": ";
    out += json_text(json(r.chain));
    out += ",\n      \"key\": ";
    out += json_text(json(r.key));
    out += "\n    }";
  }
  out += "\n  }\n}\n";
  return out;
}

}  // namespace ecert
