// The least of a DOM the dashboard's modules touch outside the browser:
// elements by id, created elements with classes, text and children.

export class FakeNode {
  constructor(tag) {
    this.tagName = tag;
    this.className = '';
    this.attrs = {};
    this.dataset = {};
    this.children = [];
    this.text = '';
    this.parent = null;
  }

  get textContent() { return this.text + this.children.map((c) => c.textContent).join(''); }
  set textContent(t) { this.text = String(t); this.children = []; }
  get lastElementChild() { return this.children[this.children.length - 1] || null; }

  setAttribute(k, v) { this.attrs[k] = String(v); }
  getAttribute(k) { return k in this.attrs ? this.attrs[k] : null; }

  adopt(c) {
    if (typeof c === 'string') {
      const t = new FakeNode('#text');
      t.text = c;
      c = t;
    }
    c.parent = this;
    return c;
  }

  append(...cs) { for (const c of cs) this.children.push(this.adopt(c)); }
  prepend(...cs) { this.children.unshift(...cs.map((c) => this.adopt(c))); }
  replaceChildren(...cs) { this.children = []; this.append(...cs); }
  remove() {
    if (!this.parent) return;
    this.parent.children = this.parent.children.filter((c) => c !== this);
    this.parent = null;
  }
}

// install sets globalThis.document and Node; ids are the elements
// getElementById finds (made on first use).
export function install() {
  const byId = new Map();
  globalThis.Node = FakeNode;
  globalThis.document = {
    getElementById: (id) => {
      if (!byId.has(id)) byId.set(id, new FakeNode('div'));
      return byId.get(id);
    },
    createElement: (tag) => new FakeNode(tag),
    createElementNS: (_ns, tag) => new FakeNode(tag),
  };
  return globalThis.document;
}
