// Minimal builders for EC2 query-protocol XML, the shapes of the EC2 API reference: every response is
// `<ActionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` with a `requestId`; lists are `<xSet>` or
// a named element holding `<item>` children; errors are `<Response><Errors><Error><Code/><Message/></Error></Errors>
// <RequestID/></Response>` with a 4xx status.

import { randomUUID } from "node:crypto";

export const EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/";

export function escapeXml(value: string): string {
  return value
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** A node: text (escaped), nested nodes, or a list rendered as `<item>` children. */
export type XmlValue = string | number | boolean | XmlNode | XmlValue[] | undefined;
export interface XmlNode {
  [tag: string]: XmlValue;
}

function render(tag: string, value: XmlValue): string {
  if (value === undefined) return "";
  if (Array.isArray(value)) {
    if (value.length === 0) return `<${tag}/>`;
    return `<${tag}>${value.map((v) => render("item", v)).join("")}</${tag}>`;
  }
  if (typeof value === "object") {
    return `<${tag}>${Object.entries(value)
      .map(([k, v]) => render(k, v))
      .join("")}</${tag}>`;
  }
  return `<${tag}>${escapeXml(String(value))}</${tag}>`;
}

export function ec2Response(action: string, body: XmlNode, requestId = randomUUID()): string {
  const inner = Object.entries(body)
    .map(([k, v]) => render(k, v))
    .join("");
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<${action}Response xmlns="${EC2_XMLNS}"><requestId>${requestId}</requestId>${inner}</${action}Response>`
  );
}

export function ec2Error(code: string, message: string, requestId = randomUUID()): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code>` +
    `<Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
  );
}

/** The text of the first `<tag>` in an XML document (moto's responses), unescaped; undefined when absent. */
export function firstTag(xmlText: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xmlText);
  if (!match?.[1]) return undefined;
  return match[1]
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** Every `<tag>` text in document order. */
export function allTags(xmlText: string, tag: string): string[] {
  return [...xmlText.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, "g"))].map((m) => m[1] ?? "");
}
