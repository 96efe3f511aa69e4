#include "apache/lexer.h"

#include <algorithm>
#include <cctype>

namespace ecert::apache {

namespace {

// apr_isspace. A '\n' only ever appears in text substituted from the
// environment: tokenize splits physical lines on it first.
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == '\n'; }

// A logical line with continuations removed, and where each byte came from.
struct Joined {
  std::string text;
  std::vector<std::size_t> raw;  // raw[i] = offset in the original text of text[i]
};

// ap_getword_conf over joined[from, to): words with their joined ranges.
struct Word {
  std::string value;
  std::size_t begin, end;  // in joined text
};

std::vector<Word> split_words(const std::string& s, std::size_t from, std::size_t to) {
  std::vector<Word> words;
  std::size_t i = from;
  while (true) {
    while (i < to && is_blank(s[i])) ++i;
    if (i >= to) break;
    Word w;
    w.begin = i;
    char quote = s[i];
    if (quote == '"' || quote == '\'') {
      ++i;
      while (i < to && s[i] != quote) {
        if (s[i] == '\\' && i + 1 < to && s[i + 1] == quote) {
          w.value += quote;
          i += 2;
        } else {
          w.value += s[i++];
        }
      }
      if (i < to) ++i;  // closing quote; an unterminated quote runs to the end, as in Apache
    } else {
      while (i < to && !is_blank(s[i])) w.value += s[i++];
    }
    w.end = i;
    words.push_back(std::move(w));
  }
  return words;
}

void classify(LogicalLine& line, const Joined& j, std::string_view text) {
  const std::string& s = j.text;
  std::size_t end = s.size();
  while (end > 0 && is_blank(s[end - 1])) --end;
  std::size_t i = 0;
  while (i < end && is_blank(s[i])) ++i;
  std::size_t indent_end = line.begin;
  while (indent_end < text.size() && (text[indent_end] == ' ' || text[indent_end] == '\t')) ++indent_end;
  line.indent = std::string(text.substr(line.begin, indent_end - line.begin));
  if (i >= end) return;  // blank
  if (s[i] == '#') {
    line.kind = LogicalLine::Kind::kComment;
    return;
  }
  auto raw_at = [&](std::size_t k) { return k < j.raw.size() ? j.raw[k] : line.end; };
  auto to_token = [&](Word& w) {
    return Token{std::move(w.value), raw_at(w.begin), w.end > w.begin ? j.raw[w.end - 1] + 1 : raw_at(w.begin)};
  };
  std::size_t args_from, args_to = end;
  if (s[i] == '<') {
    bool closing = i + 1 < end && s[i + 1] == '/';
    std::size_t n = i + (closing ? 2 : 1);
    std::size_t name_begin = n;
    while (n < end && !is_blank(s[n]) && s[n] != '>') ++n;
    line.kind = closing ? LogicalLine::Kind::kSectionClose : LogicalLine::Kind::kSectionOpen;
    line.name = s.substr(name_begin, n - name_begin);
    line.name_end = raw_at(n);
    std::size_t gt = s.rfind('>', end - 1);
    if (gt == std::string::npos || gt < n) {
      line.error = std::string(closing ? "</" : "<") + line.name + " is missing its closing '>'";
      args_to = end;
    } else {
      args_to = gt;
    }
    if (line.name.empty()) line.error = "a section tag without a name";
    args_from = n;
  } else {
    std::size_t n = i;
    while (n < end && !is_blank(s[n])) ++n;
    line.kind = LogicalLine::Kind::kDirective;
    line.name = s.substr(i, n - i);
    line.name_end = raw_at(n);
    args_from = n;
  }
  auto words = split_words(s, args_from, args_to);
  if (!words.empty() && line.kind == LogicalLine::Kind::kDirective)
    line.rest_after_first_arg = s.substr(words[0].end, end - words[0].end);
  for (auto& w : words) line.args.push_back(to_token(w));
}

}  // namespace

bool LogicalLine::is(std::string_view directive_name) const { return iequals(name, directive_name); }

std::vector<LogicalLine> tokenize(std::string_view text) {
  std::vector<LogicalLine> lines;
  std::size_t pos = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  int lineno = 1;
  while (pos < text.size()) {
    LogicalLine line;
    line.begin = pos;
    line.line = lineno;
    Joined joined;
    while (true) {
      std::size_t nl = text.find('\n', pos);
      std::size_t phys_end = nl == std::string_view::npos ? text.size() : nl;
      std::size_t content_end = phys_end;
      if (content_end > pos && text[content_end - 1] == '\r') --content_end;
      bool continues = nl != std::string_view::npos && content_end > pos && text[content_end - 1] == '\\' &&
                       !(content_end - 1 > pos && text[content_end - 2] == '\\');
      std::size_t keep_end = continues ? content_end - 1 : content_end;
      for (std::size_t k = pos; k < keep_end; ++k) {
        joined.text += text[k];
        joined.raw.push_back(k);
      }
      if (continues) {
        pos = nl + 1;
        ++lineno;
        if (pos < text.size()) continue;
        // A continuation on the very last line: nothing follows to join.
        --lineno;
        line.end = content_end;
        line.next = pos;
        line.eol = text.substr(content_end, nl + 1 - content_end);
        break;
      }
      line.end = content_end;
      line.next = nl == std::string_view::npos ? text.size() : nl + 1;
      line.eol = text.substr(content_end, line.next - content_end);
      break;
    }
    line.last_line = lineno;
    classify(line, joined, text);
    line.text = std::move(joined.text);
    pos = line.next;
    ++lineno;
    lines.push_back(std::move(line));
  }
  return lines;
}

LogicalLine parse_logical_line(std::string_view text) {
  LogicalLine line;
  line.line = line.last_line = 1;
  line.end = line.next = text.size();
  Joined joined{std::string(text), {}};
  joined.raw.resize(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) joined.raw[i] = i;
  classify(line, joined, text);
  line.text = std::move(joined.text);
  return line;
}

std::vector<std::string> split_arguments(std::string_view text) {
  std::vector<std::string> out;
  std::string s(text);
  for (Word& w : split_words(s, 0, s.size())) out.push_back(std::move(w.value));
  return out;
}

}  // namespace ecert::apache
