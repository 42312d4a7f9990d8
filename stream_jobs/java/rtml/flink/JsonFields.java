package rtml.flink;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * RTML_JSON_FIELDS(raw BYTES, name1, name2, ...): the named top-level scalar fields of a JSON object as
 * text, in the order named, from one parse.
 *
 * <p>Returns NULL when the bytes are not exactly one JSON object (what {@code IS JSON OBJECT} rejects).
 * Strings give their value, numbers their JSON text, booleans "true"/"false"; a missing field, null,
 * an object or an array gives a NULL element (as {@code JSON_VALUE} gives NULL for them). A key given twice
 * takes its last value. Each built-in {@code JSON_VALUE} call parses the whole event again; the feature job
 * reads five fields in several operators, so this one parse per record is what its throughput hangs on.
 *
 * <p>The result is Flink's internal array of internal strings: an external {@code Map<String, String>}
 * (this function's first form) cost a conversion to Flink's binary map at every call, keys included, and
 * that conversion took two thirds of the source thread (JFR, 100k events). Operators chained in one task
 * thread see the same record one after the other (the watermark's event time, the dead-letter branch, the
 * valid branch), so the last result is kept per thread and reused when the bytes and names are equal.
 */
public class JsonFields extends ScalarFunction {
    private static final JsonFactory FACTORY = new JsonFactory();
    private static final ThreadLocal<Last> LAST = ThreadLocal.withInitial(Last::new);

    private static final class Last {
        byte[] raw;
        String[] names;
        Map<String, Integer> index;
        int[] first;
        ArrayData result;
    }

    public @DataTypeHint(value = "ARRAY<STRING>", bridgedTo = ArrayData.class) ArrayData eval(
            byte[] raw, String... names) {
        if (raw == null) {
            return null;
        }
        Last last = LAST.get();
        if (last.names == null || !Arrays.equals(last.names, names)) {
            last.names = names.clone();
            last.index = indexOf(names);
            last.first = new int[names.length];
            for (int i = 0; i < names.length; i++) {
                last.first[i] = last.index.get(names[i]);
            }
            last.raw = null;
        } else if (last.raw != null && Arrays.equals(last.raw, raw)) {
            return last.result;
        }
        ArrayData result = parse(raw, last.index, last.first);
        last.raw = raw.clone();
        last.result = result;
        return result;
    }

    static Map<String, Integer> indexOf(String[] names) {
        Map<String, Integer> index = new HashMap<>(names.length * 2);
        for (int i = 0; i < names.length; i++) {
            index.putIfAbsent(names[i], i);
        }
        return index;
    }

    /** The named fields' text in the order named; {@code null} when the bytes are not one JSON object. */
    static ArrayData parse(byte[] raw, Map<String, Integer> index, int[] first) {
        int size = first.length;
        StringData[] values = new StringData[size];
        try (JsonParser parser = FACTORY.createParser(raw)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            JsonToken token;
            while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
                Integer at = index.get(parser.currentName());
                JsonToken value = parser.nextToken();
                String text;
                switch (value) {
                    case VALUE_STRING:
                    case VALUE_NUMBER_INT:
                    case VALUE_NUMBER_FLOAT:
                        text = at == null ? null : parser.getText();
                        break;
                    case VALUE_TRUE:
                        text = "true";
                        break;
                    case VALUE_FALSE:
                        text = "false";
                        break;
                    case START_OBJECT:
                    case START_ARRAY:
                        parser.skipChildren();
                        text = null;
                        break;
                    default:
                        text = null;
                }
                if (at != null) {
                    values[at] = text == null ? null : StringData.fromString(text);
                }
            }
            if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
                return null;
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        for (int i = 0; i < size; i++) {  // a name given twice reads the same field
            values[i] = values[first[i]];
        }
        return new GenericArrayData(values);
    }
}
