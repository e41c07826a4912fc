import { describe, expect, it } from "vitest";
import { parsePeople } from "./settings";

describe("parsePeople", () => {
  it("reads one person per line, the number before the equals sign", () => {
    expect(parsePeople("(11) 99999-0001 = Ana\n\n  +55 11 98888-0002=Bruno Souza \n")).toEqual({
      "(11) 99999-0001": "Ana",
      "+55 11 98888-0002": "Bruno Souza",
    });
  });
  it("keeps a line without a name, for the engine to say what is missing", () => {
    expect(parsePeople("(11) 99999-0001")).toEqual({ "(11) 99999-0001": "" });
  });
});
