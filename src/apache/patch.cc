// The lossless editor: every change is a splice of a byte range found by the
// shared tokenizer, so bytes outside the spliced ranges cannot change.
#include <algorithm>
#include <array>
#include <map>

#include "apache/config.h"
#include "apache/lexer.h"

namespace ecert::apache {

namespace {

struct Splice {
  std::size_t begin, end;
  std::string text;
};

// In the order missing directives are added.
constexpr std::array<const char*, 3> kSslDirectives = {"SSLCertificateFile", "SSLCertificateKeyFile",
                                                       "SSLCertificateChainFile"};

const std::string& setting_for(const SslSettings& s, std::string_view name) {
  if (iequals(name, "SSLCertificateFile")) return s.cert_file;
  if (iequals(name, "SSLCertificateKeyFile")) return s.key_file;
  return s.chain_file;
}

// An argument Apache reads back as `value` (ap_getword_conf).
// `force`: quote even a plain value (see set_argument).
Result<std::string> quote(const std::string& value, bool force = false) {
  if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos)
    return Status::invalid("the path \"" + value + "\" contains a line break or NUL; Apache cannot read it");
  if (!force && !value.empty() && value.find_first_of(" \t\"'#") == std::string::npos) return value;
  if (!value.empty() && value.back() == '\\')
    return Status::invalid("the path " + value + " ends in a backslash and cannot be quoted for Apache; rename it");
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '\\';
    out += c;
  }
  return out + "\"";
}

Result<Splice> set_argument(std::string_view content, const LogicalLine& line, const std::string& value) {
  // A quoted argument with text glued after its closing quote ('a'b is two
  // words to Apache) must stay quoted, or the new value and that text merge.
  bool glued = false;
  if (!line.args.empty() && line.args[0].begin < content.size() && line.args[0].end < content.size()) {
    const char first = content[line.args[0].begin], next = content[line.args[0].end];
    glued = (first == '"' || first == '\'') && next != ' ' && next != '\t' && next != '\r' && next != '\n' &&
            next != '\f' && next != '\v';
  }
  auto quoted = quote(value, glued);
  if (!quoted.is_ok()) return quoted.status();
  if (line.continued())  // joined lines become one, keeping the first line's indentation
    return Splice{line.begin, line.end, line.indent + line.name + " " + *quoted + line.rest_after_first_arg};
  if (line.args.empty()) return Splice{line.name_end, line.name_end, " " + *quoted};
  return Splice{line.args[0].begin, line.args[0].end, *quoted};
}

bool is_ssl_directive(const LogicalLine& line) {
  if (line.kind != LogicalLine::Kind::kDirective) return false;
  for (const char* name : kSslDirectives)
    if (line.is(name)) return true;
  return false;
}

bool inside(const std::vector<LineRange>& ranges, int line) {
  for (const LineRange& r : ranges)
    if (line >= r.first && line <= r.last) return true;
  return false;
}

std::string_view file_eol(const std::vector<LogicalLine>& lines) {
  for (const auto& l : lines)
    if (!l.eol.empty()) return l.eol;
  return "\n";
}

bool is_marker(const LogicalLine& line, std::string_view marker) {
  return line.kind == LogicalLine::Kind::kComment && line.text.find(marker) != std::string::npos;
}

// Stapling in a vhost block: an SSLUseStapling line set on, or (off) the
// marked line ecertctl added removed with its marker. Records "SSLUseStapling"
// in `seen` when the block has a line it keeps.
Status stapling_line(std::string_view content, const std::vector<LogicalLine>& lines, std::size_t j,
                     const VhostEdit& edit, std::map<std::string, bool>& seen, std::vector<Splice>& splices) {
  const LogicalLine& line = lines[j];
  if (!edit.stapling || line.kind != LogicalLine::Kind::kDirective || !line.is("SSLUseStapling")) return Status::ok();
  const bool ours = j > 0 && is_marker(lines[j - 1], kStaplingMarker);
  if (!*edit.stapling) {
    if (ours) splices.push_back(Splice{lines[j - 1].begin, line.next, ""});
    return Status::ok();
  }
  seen["SSLUseStapling"] = true;
  if (!line.args.empty() && iequals(line.args[0].value, "on")) return Status::ok();
  // The operator's own "off" becomes a marked "on", so that turning stapling
  // off again takes it back to Apache's default (off).
  const std::string eol = line.eol.empty() ? "\n" : std::string(line.eol);
  splices.push_back(Splice{line.begin, line.next,
                           line.indent + kStaplingMarker + eol + line.indent + "SSLUseStapling on" +
                               std::string(line.eol)});
  return Status::ok();
}

Status edit_block(std::string_view content, const std::vector<LogicalLine>& lines, const VhostEdit& edit,
                  std::vector<Splice>& splices) {
  using Kind = LogicalLine::Kind;
  std::size_t open = lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i].line == edit.vhost_line && lines[i].kind == Kind::kSectionOpen && lines[i].is("VirtualHost")) open = i;
  if (open == lines.size())
    return Status::invalid("line " + std::to_string(edit.vhost_line) +
                           " is not a <VirtualHost> opening (the file changed since it was read?); read the config again");
  int depth = 0;
  std::size_t close = lines.size();
  const LogicalLine* first_inside = nullptr;
  std::map<std::string, bool> seen;
  for (std::size_t j = open + 1; j < lines.size() && close == lines.size(); ++j) {
    const LogicalLine& line = lines[j];
    if (line.kind == Kind::kBlank || line.kind == Kind::kComment) continue;
    if (line.kind == Kind::kSectionClose && depth == 0) {
      close = j;
      break;
    }
    if (!first_inside) first_inside = &line;
    if (line.kind == Kind::kSectionOpen) ++depth;
    if (line.kind == Kind::kSectionClose) --depth;
    if (inside(edit.unread, line.line)) continue;
    if (Status st = stapling_line(content, lines, j, edit, seen, splices); !st) return st;
    if (edit.remove_chain && line.kind == Kind::kDirective && line.is("SSLCertificateChainFile")) {
      splices.push_back(Splice{line.begin, line.next, ""});
      continue;
    }
    if (!is_ssl_directive(line)) continue;
    for (const char* name : kSslDirectives) {
      if (!line.is(name) || setting_for(edit.settings, name).empty()) continue;
      seen[name] = true;
      auto splice = set_argument(content, line, setting_for(edit.settings, name));
      if (!splice.is_ok()) return splice.status();
      splices.push_back(std::move(*splice));
    }
  }
  if (close == lines.size())
    return Status::invalid("<VirtualHost> at line " + std::to_string(edit.vhost_line) +
                           " is not closed; add </VirtualHost>");
  const LogicalLine& closing = lines[close];
  std::string indent = first_inside ? first_inside->indent : closing.indent + "    ";
  std::string_view eol = lines[open].eol.empty() ? file_eol(lines) : lines[open].eol;
  std::string added;
  for (const char* name : kSslDirectives) {
    const std::string& value = setting_for(edit.settings, name);
    if (value.empty() || seen[name]) continue;
    if (std::find(edit.defined_in_includes.begin(), edit.defined_in_includes.end(), name) !=
        edit.defined_in_includes.end())
      continue;
    auto quoted = quote(value);
    if (!quoted.is_ok()) return quoted.status();
    added += indent + name + " " + *quoted + std::string(eol);
  }
  if (edit.stapling.value_or(false) && !seen["SSLUseStapling"])
    added += indent + kStaplingMarker + std::string(eol) + indent + "SSLUseStapling on" + std::string(eol);
  if (!added.empty()) splices.push_back(Splice{closing.begin, closing.begin, std::move(added)});
  return Status::ok();
}

// Applies splices from the end of the text backwards so earlier offsets stay valid.
Result<std::string> apply(std::string_view content, std::vector<Splice> splices) {
  std::sort(splices.begin(), splices.end(), [](const Splice& a, const Splice& b) {
    return a.begin != b.begin ? a.begin > b.begin : a.end > b.end;
  });
  std::string out(content);
  std::size_t limit = content.size();
  for (const Splice& s : splices) {
    if (s.end > limit) return Status::invalid("two edits overlap in the same bytes; list each <VirtualHost> once");
    out.replace(s.begin, s.end - s.begin, s.text);
    limit = s.begin;
  }
  return out;
}

}  // namespace

Result<std::string> patch_config_text(std::string_view content, const std::vector<VhostEdit>& edits) {
  std::vector<LogicalLine> lines = tokenize(content);
  std::vector<Splice> splices;
  for (const VhostEdit& edit : edits)
    if (Status s = edit_block(content, lines, edit, splices); !s.is_ok()) return s;
  return apply(content, std::move(splices));
}

Result<std::string> patch_directive_lines(std::string_view content, const std::vector<DirectiveEdit>& edits) {
  std::vector<LogicalLine> lines = tokenize(content);
  std::vector<Splice> splices;
  for (const DirectiveEdit& edit : edits) {
    auto it = std::find_if(lines.begin(), lines.end(), [&](const LogicalLine& l) {
      return l.line == edit.line && l.kind == LogicalLine::Kind::kDirective && l.is(edit.name);
    });
    if (it == lines.end())
      return Status::invalid("line " + std::to_string(edit.line) + " is not a " + edit.name +
                             " directive (the file changed since it was read?); read the config again");
    auto splice = set_argument(content, *it, edit.value);
    if (!splice.is_ok()) return splice.status();
    splices.push_back(std::move(*splice));
  }
  return apply(content, std::move(splices));
}

Result<std::string> set_stapling_cache(std::string_view content, bool present) {
  std::vector<LogicalLine> lines = tokenize(content);
  std::size_t marker = lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (is_marker(lines[i], kStaplingCacheMarker)) marker = i;
  if (present == (marker != lines.size())) return std::string(content);
  if (!present) {
    // The marker, <IfModule mod_ssl.c>, the directive and </IfModule>.
    if (marker + 3 >= lines.size() || !lines[marker + 3].is("IfModule"))
      return Status::invalid("the OCSP stapling cache block after \"" + std::string(kStaplingCacheMarker) +
                             "\" was changed by hand; remove it by hand");
    std::string out(content);
    return out.erase(lines[marker].begin, lines[marker + 3].next - lines[marker].begin);
  }
  const std::string eol(file_eol(lines));
  std::string out(content);
  if (!out.empty() && out.back() != '\n') out += eol;
  return out + kStaplingCacheMarker + eol + "<IfModule mod_ssl.c>" + eol +
         "    SSLStaplingCache shmcb:ssl_stapling(65536)" + eol + "</IfModule>" + eol;
}

}  // namespace ecert::apache
