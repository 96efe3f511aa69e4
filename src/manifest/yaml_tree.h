// A YAML document as the manifest reader needs it: yaml-cpp's parser events
// built into a compact tree. yaml-cpp's own YAML::Node costs about half a
// kilobyte per node, and a 10,000-site manifest has a quarter of a million
// of them; these cost a fifth of that.
//
// Mirrors the part of YAML::Node the reader uses, as YAML::Load would build
// it: the same marks and tags ("!" for a quoted scalar, "?" for a plain
// one), aliases sharing their anchor's node (an alias of an ancestor makes a
// cycle, as in yaml-cpp), and duplicate keys kept as separate pairs.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace ecert::yaml {

struct NodeData {
  YAML::NodeType::value type = YAML::NodeType::Null;
  YAML::Mark mark;
  std::string tag;
  std::string scalar;
  std::vector<const NodeData*> children;  // a map's are key, value, key, value, ...
};

class Node {
 public:
  Node() = default;
  explicit Node(const NodeData* data) : d_(data) {}

  YAML::NodeType::value Type() const { return d_ ? d_->type : YAML::NodeType::Null; }
  bool IsNull() const { return Type() == YAML::NodeType::Null; }
  bool IsScalar() const { return Type() == YAML::NodeType::Scalar; }
  bool IsSequence() const { return Type() == YAML::NodeType::Sequence; }
  bool IsMap() const { return Type() == YAML::NodeType::Map; }
  const std::string& Scalar() const;
  const std::string& Tag() const;
  YAML::Mark Mark() const { return d_ ? d_->mark : YAML::Mark::null_mark(); }
  // Elements of a list, pairs of a map, 0 otherwise.
  std::size_t size() const;
  // A list's element. REQUIRES: IsSequence() and i < size().
  Node operator[](std::size_t i) const { return Node(d_->children[i]); }

  // A list element (the item itself) or a map pair (first, second).
  struct Item;
  class iterator;
  iterator begin() const;
  iterator end() const;

 private:
  const NodeData* d_ = nullptr;
};

struct Node::Item : Node {
  Item() = default;
  Item(const Node& element, const Node& key, const Node& value) : Node(element), first(key), second(value) {}
  Node first, second;
};

class Node::iterator {
 public:
  iterator(const NodeData* d, std::size_t i) : d_(d), i_(i) {}
  Item operator*() const;
  struct Arrow {
    Item item;
    const Item* operator->() const { return &item; }
  };
  Arrow operator->() const { return Arrow{**this}; }
  iterator& operator++() {
    i_ += d_ && d_->type == YAML::NodeType::Map ? 2 : 1;
    return *this;
  }
  bool operator==(const iterator& o) const { return d_ == o.d_ && i_ == o.i_; }
  bool operator!=(const iterator& o) const { return !(*this == o); }

 private:
  const NodeData* d_;
  std::size_t i_;
};

// The nodes of one document; Nodes point into it.
class Document {
 public:
  Node root() const { return Node(root_); }

 private:
  friend std::unique_ptr<Document> load_first_document(const std::string& text);
  std::deque<NodeData> nodes_;
  const NodeData* root_ = nullptr;
};

// Parses the first document of `text` (a Null root when there is none).
// Throws YAML::ParserException on a syntax error, as YAML::Load does.
std::unique_ptr<Document> load_first_document(const std::string& text);

}  // namespace ecert::yaml
