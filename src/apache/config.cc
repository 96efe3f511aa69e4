#include "apache/config.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <optional>

#include "apache/lexer.h"
#include "util/strings.h"

namespace ecert::apache {

namespace {

// Apache's own bound is 128; anything past 32 levels is a mistake in practice.
constexpr int kMaxIncludeDepth = 32;

// An Include path with a glob character (fnmatch's *, ? and [).
bool is_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The text between a section's name and its closing '>'. REQUIRES: `words`
// comes from parse_logical_line, so its offsets are into words.text.
std::string_view section_args(const LogicalLine& words) {
  std::string_view text = words.text;
  std::size_t gt = text.rfind('>');
  if (gt == std::string_view::npos || gt < words.name_end) return {};
  return text.substr(words.name_end, gt - words.name_end);
}

// "<IfDefine STAGING> at /etc/apache2/sites.conf:3", for messages.
std::string section_head(const std::string& name, std::string_view args, const SourcePos& pos) {
  std::string shown(trim(args));
  if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
  return "<" + name + (shown.empty() ? "" : " " + shown) + "> at " + pos.file + ":" + std::to_string(pos.line);
}

// "https://www.example.com:443" -> "www.example.com"; "[::1]:443" -> "[::1]".
std::string normalize_server_name(std::string name) {
  for (std::string_view scheme : {"https://", "http://"})
    if (name.size() >= scheme.size() && iequals(std::string_view(name).substr(0, scheme.size()), scheme))
      name.erase(0, scheme.size());
  if (!name.empty() && name.front() == '[') {
    std::size_t close = name.find(']');
    if (close != std::string::npos) name.erase(close + 1);
  } else if (std::size_t colon = name.find(':');
             colon != std::string::npos && name.find(':', colon + 1) == std::string::npos) {
    name.erase(colon);
  }
  return name;
}

// ServerName and ServerAlias: the names a vhost answers to.
void add_names(VirtualHost& vh, const LogicalLine& words) {
  if (words.is("ServerName") && !words.args.empty()) {
    vh.server_name = normalize_server_name(words.args[0].value);
  } else if (words.is("ServerAlias")) {
    for (const Token& a : words.args) vh.aliases.push_back(a.value);
  }
}

constexpr const char* kSslDirectiveNames[] = {"SSLCertificateFile", "SSLCertificateKeyFile", "SSLCertificateChainFile"};

class Loader {
 public:
  Loader(const FileSystem& fs, Config& config, const LoadOptions& options, fs::path server_root)
      : fs_(fs), config_(config), state_(options, fs, std::move(server_root)) {}

  void read(const fs::path& path, const fs::path& real, int depth) {
    auto content = fs_.read_file(path);
    if (!content.is_ok()) {
      if (stack_.empty())
        root_status = content.status();
      else
        error(include_site_, content.status().message());
      return;
    }
    config_.files.push_back(ConfigFile{path, real, *content});
    stack_.push_back(real);
    // Copy: config_.files may grow (and move) while this file is processed.
    std::string text = *content;
    process(path, real, text, depth);
    stack_.pop_back();
  }

  const fs::path& server_root() const { return state_.server_root(); }

  Diagnostics errors;
  Status root_status;  // reading the root file itself failed

 private:
  // Where the reader is: whether Apache reads these lines, and in which <VirtualHost>.
  struct Scope {
    bool read = true;  // false inside a section Apache skips
    // read: "" when Apache certainly reads these lines, else the section
    // ecertctl cannot evaluate around them; skipped: the false section.
    std::string at;
    // read: why Apache may not read these lines ("" when it does);
    // skipped: why the section is never read ("" when its test is false).
    std::string why;
    int vhost = -1;  // the enclosing <VirtualHost>: in config_.vhosts when read, else in config_.unread_vhosts
  };
  struct Open {
    std::string name;
    int line = 0;
    Scope outer;                   // the scope its closing tag returns to
    int vhost = -1;                // a <VirtualHost> opened here: its index (in the list of outer.read)
    bool unread_in_vhost = false;  // a skipped section inside a read vhost, in that vhost's own file
  };
  // One logical line as Apache reads it, after ${VAR} substitution.
  struct Reading {
    const LogicalLine& words;
    std::string missing;    // a ${NAME} defined nowhere, "" when none
    std::string subst_at;   // a ${NAME} it uses was Defined inside this section ecertctl cannot evaluate
    std::string subst_why;  // ... said for messages
    std::string at;         // "" when Apache surely reads the line, else the section that makes it unsure
    std::string why;        // ... said for messages
  };

  void error(const SourcePos& pos, std::string msg) { errors.push_back(Diagnostic{pos, std::move(msg)}); }
  void warn(const SourcePos& pos, std::string msg) {
    config_.warnings.push_back(Diagnostic{pos, std::move(msg), Diagnostic::Severity::kWarning});
  }

  void process(const fs::path& path, const fs::path& real, const std::string& text, int depth) {
    using Kind = LogicalLine::Kind;
    const Scope at_start = scope_;
    std::vector<Open> open;
    for (LogicalLine& line : tokenize(text)) {
      if (line.kind == Kind::kBlank || line.kind == Kind::kComment) continue;
      SourcePos pos{path.string(), line.line};
      if (!scope_.read && line.kind != Kind::kSectionClose)
        skip_line(line, pos, real, open);
      else if (!line.error.empty())
        error(pos, line.error + "; fix the section tag");
      else if (line.kind == Kind::kSectionClose)
        close_section(closing_name(line), pos, open);
      else
        read_line(line, pos, path, real, depth, open);
    }
    for (auto it = open.rbegin(); it != open.rend(); ++it)
      error(SourcePos{path.string(), it->line},
            "<" + it->name + "> is not closed before the end of the file; add </" + it->name + ">");
    scope_ = at_start;
  }

  // Apache substitutes ${NAME} in the whole line before it splits the words
  // (ap_resolve_env in ap_build_config_sub).
  void read_line(const LogicalLine& line, const SourcePos& pos, const fs::path& path, const fs::path& real, int depth,
                 std::vector<Open>& open) {
    bool tested = line.kind == LogicalLine::Kind::kSectionOpen && StartupState::decides_reading(line.name);
    std::optional<LogicalLine> parsed;
    StartupState::Substitution sub;
    if (tested || line.text.find('$') != std::string::npos) {
      sub = state_.substitute(line.text);
      parsed = parse_logical_line(sub.text);
    }
    Reading r{parsed ? *parsed : line, sub.missing, sub.unsure, {}, scope_.at, scope_.why};
    if (!sub.unsure.empty()) {
      r.subst_why = "${" + sub.unsure_name + "} is Defined inside " + sub.unsure + ", which ecertctl cannot evaluate";
      if (r.at.empty()) r.at = sub.unsure, r.why = r.subst_why;
    }
    if (!r.words.error.empty())
      error(pos, r.words.error + " once ${...} is substituted; fix the line");
    else if (r.words.kind == LogicalLine::Kind::kSectionOpen)
      open_section(r, line.line, pos, path, real, open);
    else if (r.words.kind == LogicalLine::Kind::kDirective)
      directive(r, line.line, pos, path, real, depth);
  }

  void open_section(const Reading& r, int lineno, const SourcePos& pos, const fs::path& path, const fs::path& real,
                    std::vector<Open>& open) {
    Open entry{r.words.name, lineno, scope_};
    if (r.words.is("VirtualHost"))
      open_vhost(r, entry, pos, path, real);
    else if (StartupState::decides_reading(r.words.name))
      enter_section(r, entry, pos);
    open.push_back(std::move(entry));
  }

  void open_vhost(const Reading& r, Open& entry, const SourcePos& pos, const fs::path& path, const fs::path& real) {
    if (scope_.vhost >= 0) {
      const VirtualHost& outer = config_.vhosts[scope_.vhost];
      error(pos, "<VirtualHost> cannot occur inside the <VirtualHost> opened at " + outer.file + ":" +
                     std::to_string(outer.line) + "; close that one first");
      return;
    }
    VirtualHost vh;
    vh.file = path.string();
    vh.real_file = real.string();
    vh.line = pos.line;
    for (const Token& a : r.words.args) vh.addresses.push_back(a.value);
    vh.condition = r.why;
    config_.vhosts.push_back(std::move(vh));
    entry.vhost = scope_.vhost = static_cast<int>(config_.vhosts.size()) - 1;
  }

  // A section whose content Apache reads or skips at startup: evaluated with
  // what is defined and loaded at this line.
  void enter_section(const Reading& r, Open& entry, const SourcePos& pos) {
    using Value = Verdict::Value;
    std::string_view args = section_args(r.words);
    auto evaluated = state_.evaluate(r.words.name, args);
    if (!evaluated.is_ok()) error(pos, evaluated.status().message());
    Verdict v = evaluated.is_ok() ? *evaluated : Verdict{};
    if (!r.subst_at.empty() && v.value != Value::kUnknown) v = Verdict{Value::kUnknown, r.subst_why};
    if (v.value == Value::kFalse) {
      entry.unread_in_vhost = scope_.vhost >= 0 && config_.vhosts[scope_.vhost].file == pos.file;
      scope_ = Scope{false, section_head(r.words.name, args, pos), std::move(v.why), -1};
    } else if (v.value == Value::kUnknown && scope_.at.empty()) {
      scope_.at = section_head(r.words.name, args, pos);
      scope_.why = scope_.at + " cannot be evaluated: " + v.why;
    }
  }

  // A closing tag's name: substituted where Apache reads the line, as
  // written inside a skipped section (ap_soak_end_container).
  std::string closing_name(const LogicalLine& line) const {
    if (!scope_.read || line.text.find('$') == std::string::npos) return line.name;
    return parse_logical_line(state_.substitute(line.text).text).name;
  }

  void close_section(const std::string& name, const SourcePos& pos, std::vector<Open>& open) {
    if (open.empty()) {
      error(pos, "</" + name + "> without a matching <" + name + "> in this file; remove it");
      return;
    }
    if (!iequals(open.back().name, name))
      error(pos, "</" + name + "> closes <" + open.back().name + "> opened at line " +
                     std::to_string(open.back().line) + "; add </" + open.back().name + "> before it");
    Open top = std::move(open.back());
    open.pop_back();
    if (top.vhost >= 0) (top.outer.read ? config_.vhosts : config_.unread_vhosts)[top.vhost].end_line = pos.line;
    if (top.unread_in_vhost) config_.vhosts[top.outer.vhost].unread.push_back(LineRange{top.line, pos.line});
    scope_ = std::move(top.outer);
  }

  // A line inside a section Apache skips: it only balances section tags
  // (ap_soak_end_container) and reads nothing, ${VAR} included. Vhosts
  // there are kept apart, for messages.
  void skip_line(const LogicalLine& line, const SourcePos& pos, const fs::path& real, std::vector<Open>& open) {
    if (line.kind == LogicalLine::Kind::kSectionOpen) {
      Open entry{line.name, line.line, scope_};
      if (line.is("VirtualHost") && scope_.vhost < 0) {
        VirtualHost vh;
        vh.file = pos.file;
        vh.real_file = real.string();
        vh.line = line.line;
        for (const Token& a : line.args) vh.addresses.push_back(a.value);
        vh.condition = scope_.at + (scope_.why.empty() ? " is false" : ": " + scope_.why);
        config_.unread_vhosts.push_back(std::move(vh));
        entry.vhost = scope_.vhost = static_cast<int>(config_.unread_vhosts.size()) - 1;
      }
      open.push_back(std::move(entry));
    } else if (line.kind == LogicalLine::Kind::kDirective && scope_.vhost >= 0) {
      add_names(config_.unread_vhosts[scope_.vhost], line);
    }
  }

  void directive(const Reading& r, int lineno, const SourcePos& pos, const fs::path& path, const fs::path& real,
                 int depth) {
    const LogicalLine& words = r.words;
    const auto& args = words.args;
    if (words.is("ServerRoot") && !args.empty()) {
      set_server_root(args[0].value, r.at);
    } else if (words.is("Define") && !args.empty()) {
      if (args[0].value.find(':') != std::string::npos)
        error(pos, "Define " + args[0].value + ": Apache refuses a variable name with ':'; rename it");
      else
        state_.define(args[0].value, args.size() > 1 ? std::optional(args[1].value) : std::nullopt, r.at);
    } else if (words.is("UnDefine") && !args.empty()) {
      state_.undefine(args[0].value, r.at);
    } else if (words.is("LoadModule") && !args.empty()) {
      state_.load_module(args[0].value, r.at);
    } else if (words.is("Include") || words.is("IncludeOptional")) {
      include(r, pos, depth, words.is("IncludeOptional"));
    } else if (scope_.vhost >= 0) {
      vhost_directive(r, lineno, path, real);
    } else if (words.is("SSLStaplingCache")) {
      config_.stapling_caches.push_back(path.string() + ":" + std::to_string(lineno));
    } else if (words.is("ServerName") && !args.empty()) {
      config_.server_name = r.why.empty() ? normalize_server_name(args[0].value) : "";
    }
  }

  void vhost_directive(const Reading& r, int lineno, const fs::path& path, const fs::path& real) {
    VirtualHost& vh = config_.vhosts[scope_.vhost];
    const LogicalLine& words = r.words;
    bool names = words.is("ServerName") || words.is("ServerAlias");
    const char* ssl = nullptr;
    for (const char* name : kSslDirectiveNames)
      if (words.is(name)) ssl = name;
    if (words.is("SSLUseStapling"))
      vh.stapling.push_back(SslDirective{"SSLUseStapling", words.args.empty() ? "" : words.args[0].value, lineno,
                                         path.string(), real.string()});
    if (!names && !ssl) return;
    // What a vhost answers to and serves must be certain, or it is never chosen.
    if (vh.condition.empty()) vh.condition = r.why;
    if (names) add_names(vh, words);
    if (ssl)
      vh.ssl.push_back(
          SslDirective{ssl, words.args.empty() ? "" : words.args[0].value, lineno, path.string(), real.string()});
  }

  void set_server_root(const std::string& value, const std::string& at) {
    fs::path root(value);
    std::string unsure = at;
    if (root.is_relative()) {
      if (unsure.empty()) unsure = state_.server_root_unsure();
      root = state_.server_root() / root;
    }
    state_.set_server_root(root.lexically_normal(), unsure);
  }

  void include(const Reading& r, const SourcePos& pos, int depth, bool optional) {
    const LogicalLine& words = r.words;
    if (words.args.empty()) {
      error(pos, words.name + " needs a path; add one or remove the line");
      return;
    }
    const std::string& arg = words.args[0].value;
    if (!r.missing.empty()) {
      warn(pos, words.name + " " + arg + " uses ${" + r.missing +
                    "}, which is neither Defined nor in the environment; this include was skipped");
      return;
    }
    fs::path target(arg);
    Scope saved = scope_;
    if (scope_.at.empty() && !r.at.empty()) scope_.at = r.at, scope_.why = r.why;
    if (target.is_relative()) {
      if (scope_.at.empty() && !state_.server_root_unsure().empty()) {
        scope_.at = state_.server_root_unsure();
        scope_.why = "the ServerRoot its path is relative to is set inside " + scope_.at +
                     ", which ecertctl cannot evaluate";
      }
      target = state_.server_root() / target;
    }
    std::vector<fs::path> files;
    if (include_targets(words.name, target.lexically_normal(), optional, pos, files)) read_each(files, pos, depth);
    scope_ = std::move(saved);
  }

  // The files an Include of `target` reads, in order. False (after
  // reporting) when the include fails.
  bool include_targets(const std::string& directive, const fs::path& target, bool optional, const SourcePos& pos,
                       std::vector<fs::path>& files) {
    if (is_glob(target.string())) {
      std::vector<fs::path> matches = glob(target);
      if (matches.empty()) {
        if (!optional)
          error(pos, "Include " + target.string() +
                         " matches no file; fix the pattern or use IncludeOptional if that is fine");
        return false;
      }
      for (const auto& m : matches) expand_or_report(m, files, pos);
      return true;
    }
    auto info = fs_.stat(target);
    if (!info.is_ok()) {
      if (!optional || !info.status().is_not_found())
        error(pos, directive + " " + target.string() + ": " +
                       (info.status().is_not_found() ? std::string("no such file or directory; fix the path or use IncludeOptional")
                                                     : info.status().message()));
      return false;
    }
    expand_or_report(target, files, pos);
    return true;
  }

  void read_each(const std::vector<fs::path>& files, const SourcePos& pos, int depth) {
    for (const fs::path& file : files) {
      auto real = fs_.write_target(file);
      fs::path real_path = real.is_ok() ? real->lexically_normal() : file;
      for (const fs::path& reading : stack_) {
        if (reading == real_path) {
          std::string chain;
          for (const auto& s : stack_) chain += s.string() + " -> ";
          error(pos, "include loop: " + chain + real_path.string() + "; remove the Include that reads " +
                         real_path.string() + " again");
          return;
        }
      }
      if (depth + 1 > kMaxIncludeDepth) {
        error(pos, "Include nesting deeper than " + std::to_string(kMaxIncludeDepth) + " levels at " + file.string() +
                       "; look for an include loop");
        return;
      }
      SourcePos saved = include_site_;
      include_site_ = pos;
      read(file, real_path, depth + 1);
      include_site_ = saved;
    }
  }

  // A directory stands for every file beneath it, alphabetically per level,
  // as Apache reads it.
  // Returns false when directories nest deeper than kMaxIncludeDepth (a
  // directory symlink pointing back up would otherwise recurse forever).
  bool expand(const fs::path& path, std::vector<fs::path>& out, int depth = 0) const {
    auto info = fs_.stat(path);
    if (info.is_ok() && info->is_directory) {
      if (depth >= kMaxIncludeDepth) return false;
      auto names = fs_.list_dir(path);
      if (!names.is_ok()) return true;
      for (const auto& name : *names)
        if (name != "." && name != ".." && !expand(path / name, out, depth + 1)) return false;
      return true;
    }
    out.push_back(path);
    return true;
  }

  void expand_or_report(const fs::path& path, std::vector<fs::path>& out, const SourcePos& pos) {
    if (!expand(path, out))
      error(pos, "Include " + path.string() + ": directories nest deeper than " + std::to_string(kMaxIncludeDepth) +
                     " levels; look for a directory symlink that points back up");
  }

  // Wildcards may appear in any component; matches are sorted per level and
  // do not match a leading dot (APR_FNM_PERIOD), as in Apache.
  std::vector<fs::path> glob(const fs::path& pattern) const {
    std::vector<fs::path> current{pattern.root_path()};
    std::vector<std::string> parts;
    for (const auto& part : pattern.relative_path()) parts.push_back(part.string());
    for (std::size_t i = 0; i < parts.size(); ++i) {
      bool last = i + 1 == parts.size();
      std::vector<fs::path> next;
      for (const fs::path& dir : current) {
        if (!is_glob(parts[i])) {
          fs::path p = dir / parts[i];
          auto info = fs_.stat(p);
          if (info.is_ok() && (last || info->is_directory)) next.push_back(p);
          continue;
        }
        auto names = fs_.list_dir(dir);
        if (!names.is_ok()) continue;
        for (const auto& name : *names) {
          if (name == "." || name == ".." || fnmatch(parts[i].c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
          fs::path p = dir / name;
          if (!last) {
            auto info = fs_.stat(p);
            if (!info.is_ok() || !info->is_directory) continue;
          }
          next.push_back(p);
        }
      }
      current = std::move(next);
    }
    return current;
  }

  const FileSystem& fs_;
  Config& config_;
  StartupState state_;
  Scope scope_;
  std::vector<fs::path> stack_;
  SourcePos include_site_;
};


// Apache's ap_strcasecmp_match: '*' is any run of characters, '?' any one,
// every other character (also '[') itself, ignoring case.
bool wildcard_match(std::string_view pattern, std::string_view name) {
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || iequals(pattern.substr(p, 1), name.substr(n, 1)))) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// Splits an address into its port part ("" when none).
std::string_view port_of(std::string_view address) {
  if (!address.empty() && address.front() == '[') {
    std::size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':') return {};
    return address.substr(close + 2);
  }
  std::size_t colon = address.find(':');
  if (colon == std::string_view::npos || address.find(':', colon + 1) != std::string_view::npos) return {};
  return address.substr(colon + 1);
}

}  // namespace

std::optional<std::string> VirtualHost::ssl_value(std::string_view directive_name) const {
  std::optional<std::string> value;
  for (const auto& d : ssl)
    if (iequals(d.name, directive_name)) value = d.value;
  return value;
}

bool VirtualHost::listens_on(int port) const {
  for (const auto& address : addresses) {
    std::string_view p = port_of(address);
    if (p.empty() || p == "*" || p == std::to_string(port)) return true;
  }
  return false;
}

bool is_wildcard_address(std::string_view address) {
  const std::string_view port = port_of(address);
  if (!port.empty()) address.remove_suffix(port.size() + 1);
  return address == "*" || iequals(address, "_default_") || address == "0.0.0.0" || address == "[::]";
}

std::string address_key(std::string_view address) {
  if (!is_wildcard_address(address)) return lower(address);
  const std::string_view port = port_of(address);
  return port.empty() ? "*" : "*:" + std::string(port);
}

namespace {

void inherit_server_name(Config& config) {
  if (config.server_name.empty()) return;
  for (VirtualHost& vh : config.vhosts)
    if (vh.server_name.empty() && std::any_of(vh.addresses.begin(), vh.addresses.end(), is_wildcard_address))
      vh.inherited_name = config.server_name;
}

}  // namespace

bool is_alias_pattern(std::string_view alias) { return alias.find_first_of("*?") != std::string_view::npos; }

VirtualHost::NameMatch VirtualHost::match_name(std::string_view name) const {
  if (!server_name.empty() && iequals(server_name, name)) return NameMatch::kExact;
  bool wildcard = false;
  for (const auto& alias : aliases) {
    if (iequals(alias, name)) return NameMatch::kExact;
    if (is_alias_pattern(alias) && wildcard_match(alias, name)) wildcard = true;
  }
  if (wildcard) return NameMatch::kWildcard;
  return server_name.empty() && !inherited_name.empty() && iequals(inherited_name, name) ? NameMatch::kInherited
                                                                                          : NameMatch::kNone;
}

bool VirtualHost::serves(std::string_view name) const { return match_name(name) != NameMatch::kNone; }

std::string VirtualHost::describe() const {
  std::string out = file + ":" + std::to_string(line) + " (";
  for (std::size_t i = 0; i < addresses.size(); ++i) out += (i ? " " : "") + addresses[i];
  if (!server_name.empty()) out += ", ServerName " + server_name;
  else if (!inherited_name.empty()) out += ", no ServerName: the main server's, " + inherited_name;
  else out += ", no ServerName";
  if (!aliases.empty()) {
    out += ", ServerAlias";
    for (const auto& a : aliases) out += " " + a;
  }
  return out + ")";
}

Result<Config> load_config(const FileSystem& fs, const fs::path& root, const LoadOptions& options) {
  Config config;
  config.root = root;
  auto real = fs.write_target(root);
  if (!real.is_ok()) return real.status();
  Loader loader(fs, config, options, root.parent_path().empty() ? fs::path(".") : root.parent_path());
  loader.read(root, real->lexically_normal(), 0);
  config.server_root = loader.server_root();
  if (!loader.root_status.is_ok()) return loader.root_status;
  if (!loader.errors.empty()) {
    std::string msg;
    for (const auto& d : loader.errors) msg += (msg.empty() ? "" : "\n") + d.str();
    return Status::invalid(msg);
  }
  inherit_server_name(config);
  config.stapling_cache_added =
      !config.files.empty() && config.files.front().content.find(kStaplingCacheMarker) != std::string::npos;
  return config;
}

}  // namespace ecert::apache
