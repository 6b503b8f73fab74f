import React from 'react';
import { render, Box, Text } from 'ink';
import SelectInput from 'ink-select-input';
const items = [
  { label: 'Patch (1.4.3)', value: 'patch' },
  { label: 'Minor (1.5.0)', value: 'minor' },
  { label: 'Major (2.0.0)', value: 'major' },
];
const App = () => React.createElement(Box, { flexDirection: 'column' },
  React.createElement(Text, null, 'Select a version increment:'),
  React.createElement(SelectInput, { items, onSelect: () => process.exit(0) }));
render(React.createElement(App));
