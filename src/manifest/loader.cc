#include "manifest/loader.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "manifest/parts.h"
#include "manifest/prescan.h"
#include "manifest/yaml_walk.h"

namespace ecert {
namespace {

const std::vector<MapReader::Hint> kTopHints = {
    {"config", "it belongs under 'apache'"},     {"configtest", "it belongs under 'apache'"},
    {"restart", "it belongs under 'apache'"},    {"timeout", "it belongs under 'apache'"},
    {"environment", "it belongs under 'apache'"},
    {"command", "it belongs under 'notify'"},    {"events", "it belongs under 'notify'"},
    {"repeat", "it belongs under 'notify'"},
    {"renewal", "it belongs under 'defaults' or in a site"},
    {"name", "it belongs in a site under 'sites'"}};

void read_version(Walker& w, const Entry& e) {
  if (e.value.IsScalar() && e.value.Tag() != "!" && e.value.Scalar() == "1") return;
  if (e.value.IsScalar() && e.value.Tag() != "!" &&
      std::all_of(e.value.Scalar().begin(), e.value.Scalar().end(),
                  [](char c) { return c >= '0' && c <= '9'; }) &&
      !e.value.Scalar().empty()) {
    w.error(w.pos(e.value), "unsupported manifest version " + e.value.Scalar() +
                                "; this ecertctl reads version 1");
    return;
  }
  if (e.value.IsNull()) {
    w.error(e.key_pos, "empty value for 'version'; write version: 1");
    return;
  }
  w.error(w.pos(e.value), std::string("'version' must be the number 1, not ") +
                              (e.value.IsScalar() && e.value.Tag() == "!"
                                   ? "the string '" + e.value.Scalar() + "'"
                                   : describe(e.value)));
}

void read_manifest(Walker& w, const yaml::Node& root, Manifest* manifest) {
  SourcePos root_pos = w.pos(root);
  if (root_pos.line == 0) root_pos = {w.file(), 1, 1};
  if (!root.IsMap()) {
    w.error(root_pos, std::string("a manifest must be a mapping with version, apache and "
                                  "sites, not ") +
                          describe(root));
    return;
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (!w.within_expansion_bound(it->second)) {
      w.error(w.pos(it->first),
              "alias expansion too large (over " + std::to_string(kMaxManifestNodes) +
                  " nodes or " + std::to_string(kMaxExpandedDepth) +
                  " levels); write the values out instead of using aliases");
      return;
    }
  }

  MapReader top(w, root, "manifest", {"version", "apache", "defaults", "notify", "sites"},
                kTopHints);
  if (const Entry* v = top.find("version"))
    read_version(w, *v);
  else
    w.error(root_pos, "missing required key 'version' in manifest; write version: 1");

  std::vector<NameAt> environment;
  if (const Entry* a = top.find("apache"))
    read_apache(w, *a, manifest->dir, &manifest->apache, &environment);
  else
    w.error(root_pos, "missing required key 'apache' in manifest");

  if (const Entry* n = top.find("notify")) read_notify(w, *n, &manifest->notify.emplace());

  SitePart defaults;
  if (const Entry* d = top.find("defaults")) {
    if (expect_map(w, *d, "defaults")) parse_site_part(w, d->value, true, &defaults);
  }

  const Entry* s = top.find("sites");
  if (s == nullptr) {
    w.error(root_pos, "missing required key 'sites' in manifest");
    return;
  }
  if (!expect_list(w, *s, "sites", "a list of sites")) return;
  if (s->value.size() == 0) {
    w.error(w.pos(s->value), "'sites' must list at least one site");
    return;
  }
  std::vector<SitePart> parts;
  parts.reserve(s->value.size());
  for (auto it = s->value.begin(); it != s->value.end(); ++it) {
    yaml::Node site = *it;
    if (!site.IsMap()) {
      w.error(w.pos(site), std::string("each entry of 'sites' must be a mapping, not ") +
                               describe(site));
      continue;
    }
    parts.emplace_back();
    parse_site_part(w, site, false, &parts.back());
  }
  build_sites(w, defaults, parts, manifest->dir, &manifest->sites);
  check_environment(w, environment, manifest->sites);
}

// Source order, then each message once: an aliased node, or a default
// shared by several sites, is judged once per use.
Diagnostics finish(Diagnostics diags) {
  std::stable_sort(diags.begin(), diags.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
  });
  std::set<std::tuple<int, int, std::string>> seen;
  Diagnostics out;
  for (auto& d : diags)
    if (seen.emplace(d.pos.line, d.pos.column, d.message).second) out.push_back(std::move(d));
  return out;
}

}  // namespace

// The 1-based line where a second YAML document starts (the line after a
// "---" or "..." marker that follows content), or 0 when there is none.
static int second_document_line(std::string_view text) {
  bool content = false;
  int line = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    ++line;
    const bool start = l == "---" || l.rfind("--- ", 0) == 0;
    const bool finish = l == "..." || l.rfind("... ", 0) == 0;
    if ((start || finish) && content) {
      // Only a marker followed by more content starts a second document.
      std::string_view rest = end < text.size() ? text.substr(end + 1) : std::string_view();
      bool more = l.size() > 4 && start;
      for (std::size_t i = 0; !more && i < rest.size();) {
        std::size_t e = rest.find('\n', i);
        if (e == std::string_view::npos) e = rest.size();
        std::string_view r = rest.substr(i, e - i);
        std::size_t first = r.find_first_not_of(" \t\r");
        if (first != std::string_view::npos && r[first] != '#' && r.substr(first) != "..." && r.substr(first) != "---")
          more = true;
        i = e + 1;
      }
      if (more) return start && l.size() > 4 ? line : line + 1;
    }
    if (!start && !finish) {
      std::size_t first = l.find_first_not_of(" \t");
      if (first != std::string_view::npos && l[first] != '#' && l[first] != '%') content = true;
    }
    if (end == text.size()) break;
    pos = end + 1;
  }
  return 0;
}

LoadResult load_manifest_text(std::string_view text, const fs::path& path) {
  LoadResult result;
  Manifest& manifest = result.manifest;
  manifest.file = path;
  Walker w(path.string());
  try {
    std::error_code ec;
    fs::path abs = fs::absolute(path, ec);
    manifest.dir = (ec ? path : abs).parent_path().lexically_normal();

    if (text.size() > kMaxManifestBytes) {
      w.error({w.file(), 0, 0}, "manifest is " + std::to_string(text.size()) +
                                    " bytes; the limit is " + std::to_string(kMaxManifestBytes) +
                                    " (1 MiB)");
    } else if (prescan_manifest(text, w.file(), &w.diagnostics())) {
      // YAML::LoadAll can loop forever on some malformed input (found by
      // fuzzing); one document is all a manifest has, so load just one and
      // find a second one by its marker line.
      std::unique_ptr<yaml::Document> document;
      yaml::Node doc;
      bool parsed = false;
      try {
        document = yaml::load_first_document(std::string(text));
        doc = document->root();
        parsed = true;
      } catch (const YAML::ParserException& e) {
        w.error(w.pos(e.mark), "YAML syntax: " + e.msg);
      }
      if (int line = second_document_line(text)) {
        w.error({w.file(), line, 1}, "a manifest is one YAML document; remove the second one");
      } else if (parsed && doc.IsNull() && !has_errors(w.diagnostics())) {
        w.error({w.file(), 1, 1}, "manifest is empty; start with version: 1");
      } else if (parsed && !doc.IsNull()) {
        read_manifest(w, doc, &manifest);
      }
    }
  } catch (const YAML::Exception& e) {
    w.error(w.pos(e.mark), std::string("cannot read manifest: ") + e.what());
  } catch (const std::exception& e) {
    w.error({w.file(), 0, 0}, std::string("cannot read manifest: ") + e.what());
  }
  result.diagnostics = finish(std::move(w.diagnostics()));
  return result;
}

LoadResult load_manifest_file(const FileSystem& fs, const fs::path& path, std::string* bytes) {
  auto fail = [&](std::string message) {
    LoadResult r;
    r.manifest.file = path;
    r.diagnostics.push_back({{path.string(), 0, 0}, std::move(message)});
    return r;
  };
  auto info = fs.stat(path);
  if (!info) return fail(info.status().message());
  if (!info->is_regular) return fail("manifest is not a regular file");
  if (info->size > kMaxManifestBytes)
    return fail("manifest is " + std::to_string(info->size) + " bytes; the limit is " +
                std::to_string(kMaxManifestBytes) + " (1 MiB)");
  auto text = fs.read_file(path);
  if (!text) return fail(text.status().message());
  if (bytes) *bytes = *text;
  return load_manifest_text(*text, path);
}

}  // namespace ecert
