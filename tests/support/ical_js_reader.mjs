// Reads an iCalendar body from stdin with ical.js (the parser of Mozilla Thunderbird's
// calendar) and prints every component's properties as JSON: name, value type, value.
//
// ical.js types a property from its VALUE parameter or, failing that, from its design table.
// The properties it does not define get the type calendar clients read them as: Outlook reads
// X-PUBLISHED-TTL only as a duration (PT1H), RFC 7986 makes REFRESH-INTERVAL a duration and
// NAME text, Apple's X-WR-CALNAME is text. A value that does not parse as its type is
// reported with its error instead of a value.
import ICAL from "ical.js";
import { readFileSync } from "node:fs";

const design = ICAL.design.icalendar.property;
design["x-published-ttl"] = { defaultType: "duration" };
design["refresh-interval"] = { defaultType: "duration" };
design["name"] = { defaultType: "text" };
design["x-wr-calname"] = { defaultType: "text" };

function valueOf(property) {
  const value = property.getFirstValue();
  if (value instanceof ICAL.Time) {
    return { time: value.toString(), utc: value.zone === ICAL.Timezone.utcTimezone, is_date: value.isDate };
  }
  if (value instanceof ICAL.Duration) {
    return { duration: value.toString(), seconds: value.toSeconds() };
  }
  return value;
}

function read(component) {
  return {
    name: component.name,
    properties: component.getAllProperties().map((property) => {
      const entry = { name: property.name, type: property.type };
      try {
        entry.count = property.getValues().length;
        entry.value = valueOf(property);
      } catch (error) {
        entry.error = String(error.message || error);
      }
      return entry;
    }),
    components: component.getAllSubcomponents().map(read),
  };
}

const body = readFileSync(0, "utf8");
process.stdout.write(JSON.stringify(read(new ICAL.Component(ICAL.parse(body)))));
