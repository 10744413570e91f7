using System.Text;

namespace Protocols.Generators
{
    /// <summary>A StringBuilder that indents with four spaces and writes LF line endings.</summary>
    internal sealed class CodeWriter
    {
        private readonly StringBuilder _text = new StringBuilder();
        private int _indent;

        public void Line(string line = "")
        {
            if (line.Length > 0)
            {
                _text.Append(' ', _indent * 4).Append(line);
            }

            _text.Append('\n');
        }

        /// <summary>
        /// Writes a template: a raw string of one or more lines, each indented at the current level
        /// (relative indentation inside the template is kept; empty lines stay empty).
        /// </summary>
        public void Template(string text)
        {
            int start = 0;
            while (true)
            {
                int end = text.IndexOf('\n', start);
                string line = (end < 0 ? text.Substring(start) : text.Substring(start, end - start)).TrimEnd('\r');
                Line(line);
                if (end < 0)
                {
                    return;
                }

                start = end + 1;
            }
        }

        /// <summary>Indents what follows one level: after a template that ends inside a block it opened; <see cref="Close"/> ends the block.</summary>
        public void Indent() => _indent++;

        public void Open(string line)
        {
            Line(line);
            Line("{");
            _indent++;
        }

        public void Open()
        {
            Line("{");
            _indent++;
        }

        public void Close(string suffix = "")
        {
            _indent--;
            Line("}" + suffix);
        }

        public override string ToString() => _text.ToString();
    }
}
