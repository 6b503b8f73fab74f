import React from 'react';
import { render } from 'ink';
import { Select } from '@inkjs/ui';
render(React.createElement(Select, {
  options: [
    { label: 'Red', value: 'red' }, { label: 'Green', value: 'green' },
    { label: 'Yellow', value: 'yellow' }, { label: 'Blue', value: 'blue' },
  ],
  onChange: () => process.exit(0),
}));
