#include "engine/facts_cache.h"

#include "util/json_text.h"
#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>

#include <nlohmann/json.hpp>

#include "engine/state_dir.h"

namespace ecert {

// One field list per entry kind serves both reading and writing (the JSON
// names are the member names).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CachedKey, witness, is_rsa, bits, public_key_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CachedCsr, version, subject, public_key_id, signature_valid, attribute_count,
                                   signature_digest)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CachedCert, common_name, dns_names, issuer_cn, serial, not_before, not_after,
                                   public_key_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CachedChain, valid_from, valid_until)

namespace {

using nlohmann::json;

// nlohmann's conversions narrow an integer the member cannot hold (bits
// 4294967297 would read as 1) and convert a float out of the member's range
// with undefined behaviour. So the integer members are checked first: a line
// where one is not an integer its member can hold is skipped. Every integer
// member of the entries above is listed here.
struct IntegerMember {
  const char* name;
  std::int64_t min, max;
};
template <class T>
constexpr IntegerMember integer_member(const char* name) {
  return {name, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()};
}
constexpr IntegerMember kIntegerMembers[] = {
    integer_member<decltype(CachedKey::bits)>("bits"),
    integer_member<decltype(CachedCsr::version)>("version"),
    integer_member<decltype(CachedCsr::attribute_count)>("attribute_count"),
    integer_member<decltype(CachedCert::not_before)>("not_before"),
    integer_member<decltype(CachedCert::not_after)>("not_after"),
    integer_member<decltype(CachedChain::valid_from)>("valid_from"),
    integer_member<decltype(CachedChain::valid_until)>("valid_until"),
};

bool integers_fit(const json& j) {
  for (const IntegerMember& m : kIntegerMembers) {
    auto it = j.find(m.name);
    if (it == j.end()) continue;
    if (it->is_number_unsigned()) {
      if (it->get<std::uint64_t>() > static_cast<std::uint64_t>(m.max)) return false;
    } else if (!it->is_number_integer() || it->get<std::int64_t>() < m.min || it->get<std::int64_t>() > m.max) {
      return false;
    }
  }
  return true;
}

// Bump when what an entry means changes: an older cache is then ignored.
// 3: a chain proof covers every served certificate and its signature digest.
constexpr const char* kHeader = R"({"format":"ecertctl facts","version":3})";

void parse_line(const json& j, FactsCache& c) {
  if (!integers_fit(j)) return;
  const std::string kind = j.at("kind").get<std::string>();
  std::string id = j.at("id").get<std::string>();
  if (kind == "key") c.keys.insert_or_assign(std::move(id), j.get<CachedKey>());
  else if (kind == "csr") c.csrs.insert_or_assign(std::move(id), j.get<CachedCsr>());
  else if (kind == "cert") c.certs.insert_or_assign(std::move(id), j.get<CachedCert>());
  else if (kind == "chain") c.chains.insert_or_assign(std::move(id), j.get<CachedChain>());
  else if (kind == "signature") c.signatures.insert(std::move(id));
  // An unknown kind (a newer ecertctl with the same version) is skipped.
}

}  // namespace

FactId fact_id(FactKind kind, std::string_view key) {
  return std::hash<std::string_view>{}(key) * 8 + static_cast<FactId>(kind);
}

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
    auto was_used = [&](FactKind kind, const std::string& id) {
      return std::binary_search(use.used.begin(), use.used.end(), fact_id(kind, id));
    };
    auto keep = [&](FactKind kind, const auto& from, auto& to) {
      for (const auto& [id, v] : from)
        if (was_used(kind, id)) to.emplace(id, v);
    };
    keep(FactKind::kKey, before.keys, next.keys);
    keep(FactKind::kCsr, before.csrs, next.csrs);
    keep(FactKind::kCert, before.certs, next.certs);
    keep(FactKind::kChain, before.chains, next.chains);
    for (const auto& id : before.signatures)
      if (was_used(FactKind::kSignature, id)) next.signatures.insert(id);
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
  out.reserve(out.size() + 360 * c.size());  // about a line's length each: no doubling on the way
  auto line = [&](const char* kind, const std::string& id, json j) {
    j["kind"] = kind;
    j["id"] = id;
    try {
      // Not json_text(): a fact must be remembered as it is, or not at all.
      out += j.dump();
    } catch (const json::type_error&) {
      // Bytes that are not UTF-8 (a DNS name in a certificate is whatever
      // bytes its issuer put there) cannot be written as JSON: that fact is
      // not remembered, and is verified afresh next time.
      return;
    }
    out += '\n';
  };
  for (const auto& [id, k] : c.keys) line("key", id, k);
  for (const auto& [id, r] : c.csrs) line("csr", id, r);
  for (const auto& [id, r] : c.certs) line("cert", id, r);
  for (const auto& id : c.signatures) line("signature", id, json::object());
  for (const auto& [id, r] : c.chains) line("chain", id, r);
  return out;
}

FactsCache read_facts_cache(const FileSystem& fs, const fs::path& state_dir) {
  auto text = read_state_file(fs, facts_cache_path(state_dir));
  if (!text) return {};  // none, unreadable, or not ecertctl's own: verify afresh
  return parse_facts_cache(*text);
}

}  // namespace ecert
