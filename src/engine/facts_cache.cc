#include "engine/facts_cache.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace ecert {
namespace {

using nlohmann::json;

// Bump when what an entry means changes: an older cache is then ignored.
constexpr const char* kHeader = R"({"format":"ecertctl facts","version":1})";

template <typename T>
void take(const json& j, const char* field, T& out) {
  out = j.at(field).get<T>();
}

json name_json(const crypto::NameEntries& name) {
  json out = json::array();
  for (const auto& [k, v] : name) out.push_back({k, v});
  return out;
}

crypto::NameEntries name_from(const json& j) {
  crypto::NameEntries out;
  for (const auto& e : j) out.emplace_back(e.at(0).get<std::string>(), e.at(1).get<std::string>());
  return out;
}

void parse_line(const json& j, FactsCache& c) {
  const std::string kind = j.at("kind").get<std::string>();
  const std::string id = j.at("id").get<std::string>();
  if (kind == "key") {
    CachedKey k;
    take(j, "witness", k.witness);
    take(j, "rsa", k.is_rsa);
    take(j, "bits", k.bits);
    take(j, "spki", k.public_key_id);
    c.keys[id] = std::move(k);
  } else if (kind == "csr") {
    CachedCsr r;
    take(j, "version", r.version);
    r.subject = name_from(j.at("subject"));
    take(j, "spki", r.public_key_id);
    take(j, "signature_valid", r.signature_valid);
    take(j, "attributes", r.attribute_count);
    take(j, "digest", r.signature_digest);
    c.csrs[id] = std::move(r);
  } else if (kind == "cert") {
    CachedCert r;
    take(j, "cn", r.common_name);
    take(j, "dns", r.dns_names);
    take(j, "issuer_cn", r.issuer_cn);
    take(j, "serial", r.serial);
    take(j, "not_before", r.not_before);
    take(j, "not_after", r.not_after);
    take(j, "spki", r.public_key_id);
    c.certs[id] = std::move(r);
  } else if (kind == "signature") {
    c.signatures.insert(id);
  } else if (kind == "chain") {
    CachedChain r;
    take(j, "from", r.valid_from);
    take(j, "until", r.valid_until);
    c.chains[id] = r;
  }
  // An unknown kind (a newer ecertctl with the same version) is skipped.
}

}  // namespace

void FactsCache::merge(FactsCache&& other) {
  auto into = [](auto& to, auto& from) {
    for (auto& [k, v] : from) to.insert_or_assign(k, std::move(v));
  };
  into(keys, other.keys);
  into(csrs, other.csrs);
  into(certs, other.certs);
  signatures.merge(other.signatures);
  into(chains, other.chains);
}

void FactsUse::merge(FactsUse&& other) {
  used.insert(used.end(), other.used.begin(), other.used.end());
  learned.merge(std::move(other.learned));
}

void FactsUse::finish() {
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
}

std::optional<FactsCache> next_facts_cache(const FactsCache& before, FactsUse&& use, bool keep_all) {
  use.finish();
  if (use.learned.empty() && (keep_all || use.used.size() == before.size())) return std::nullopt;
  FactsCache next;
  if (keep_all) {
    next = before;
  } else {
    auto was_used = [&](const void* entry) { return std::binary_search(use.used.begin(), use.used.end(), entry); };
    auto keep = [&](const auto& from, auto& to) {
      for (const auto& [id, v] : from)
        if (was_used(&v)) to.emplace(id, v);
    };
    keep(before.keys, next.keys);
    keep(before.csrs, next.csrs);
    keep(before.certs, next.certs);
    keep(before.chains, next.chains);
    for (const auto& id : before.signatures)
      if (was_used(&id)) next.signatures.insert(id);
  }
  next.merge(std::move(use.learned));
  return next;
}

fs::path facts_cache_path(const fs::path& state_dir) { return state_dir / "facts.jsonl"; }

FactsCache parse_facts_cache(std::string_view text) {
  FactsCache c;
  std::size_t pos = text.find('\n');
  if (pos == std::string_view::npos || text.substr(0, pos) != kHeader) return c;
  while (++pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) break;  // a line without its newline was cut short
    const std::string_view line = text.substr(pos, end - pos);
    pos = end;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    try {
      parse_line(j, c);
    } catch (const json::exception&) {
      // A line with a missing or mistyped field: that fact is verified afresh.
    }
  }
  return c;
}

std::string render_facts_cache(const FactsCache& c) {
  std::string out = std::string(kHeader) + "\n";
  out.reserve(out.size() + 320 * c.size());  // about a line's length each: no doubling on the way
  auto line = [&](const json& j) {
    out += j.dump();
    out += '\n';
  };
  for (const auto& [id, k] : c.keys)
    line({{"kind", "key"}, {"id", id}, {"witness", k.witness}, {"rsa", k.is_rsa}, {"bits", k.bits},
          {"spki", k.public_key_id}});
  for (const auto& [id, r] : c.csrs)
    line({{"kind", "csr"}, {"id", id}, {"version", r.version}, {"subject", name_json(r.subject)},
          {"spki", r.public_key_id}, {"signature_valid", r.signature_valid}, {"attributes", r.attribute_count},
          {"digest", r.signature_digest}});
  for (const auto& [id, r] : c.certs)
    line({{"kind", "cert"}, {"id", id}, {"cn", r.common_name}, {"dns", r.dns_names}, {"issuer_cn", r.issuer_cn},
          {"serial", r.serial}, {"not_before", r.not_before}, {"not_after", r.not_after},
          {"spki", r.public_key_id}});
  for (const auto& id : c.signatures) line({{"kind", "signature"}, {"id", id}});
  for (const auto& [id, r] : c.chains)
    line({{"kind", "chain"}, {"id", id}, {"from", r.valid_from}, {"until", r.valid_until}});
  return out;
}

FactsCache read_facts_cache(const FileSystem& fs, const fs::path& state_dir) {
  const fs::path path = facts_cache_path(state_dir);
  auto info = fs.stat(path);
  if (!info || !info->is_regular || (info->mode & 022) != 0) return {};
  auto text = fs.read_file(path);
  if (!text) return {};
  return parse_facts_cache(*text);
}

}  // namespace ecert
