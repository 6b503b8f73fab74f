import React, { useState } from 'react';
import { render, Box, Text } from 'ink';
import TextInput from 'ink-text-input';
const App = () => {
  const [query, setQuery] = useState('');
  return React.createElement(Box, null,
    React.createElement(Box, { marginRight: 1 }, React.createElement(Text, null, 'Enter the commit message:')),
    React.createElement(TextInput, { value: query, onChange: setQuery }));
};
render(React.createElement(App));
